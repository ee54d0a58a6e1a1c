"""The invariants of a soak run, checked against the calls made, the audit trail as the API gives
it, and the nodes themselves (the ledger of sessions, kept from root's view of each server).

Each check returns an ``Invariant``: its name, whether it held, and the evidence either way.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bench.soak.client import Call
from bench.soak.ledger import GONE, LOST, OPEN, SELF_CLOSED, Key, Session
from bench.soak.schedule import FaultLog

NODE_ERROR = "DBS.200005"
KILL_OPS = {
    "delete": "deleteProcesses",
    "kill_by_filter": "killByFilter",
    "create_task": "createKillTask",
    "stop_task": "stopKillTask",
}
AUTHOR = {"storm": "deleteProcesses", "sweep": "killByFilter", "task": "killTask"}
SLACK = 0.5  # seconds between the service's clock reading and the soak's (one machine, one clock)
SAMPLES = 20  # evidence kept per invariant
FD_GROWTH_LIMIT = 32  # pools (4 per node), the inventory's connections, a few sockets in flight
RSS_GROWTH_LIMIT_MIB = 64.0  # from before the load to after it: warming up included
RSS_SECOND_HALF_LIMIT_MIB = 16.0  # over the second half of the load, once warm


@dataclass
class Invariant:
    name: str
    ok: bool
    detail: str
    evidence: list[Any] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "evidence": self.evidence[:SAMPLES]}


@dataclass
class Record:
    """An audit record as the API renders it, with its times as wall-clock seconds."""

    raw: dict[str, Any]
    start: float
    end: float

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Record:
        at = datetime.fromisoformat(raw["at"])
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        start = at.timestamp()
        return cls(raw, start, start + float(raw.get("duration_ms") or 0.0) / 1000.0)

    @property
    def request_id(self) -> str:
        return str(self.raw["request_id"])

    @property
    def results(self) -> list[dict[str, Any]]:
        return list(self.raw.get("results") or [])

    def killed(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r.get("outcome") == "killed"]


@dataclass
class Inputs:
    calls: list[Call]
    faults: FaultLog
    sessions: list[Session]
    node_names: dict[str, str]  # node id -> name
    records: list[dict[str, Any]]
    task_id: str | None
    task: dict[str, Any] | None  # the task as shown after it was stopped
    task_node: str  # name of the node the task ran on
    final_threads: dict[str, set[tuple[int, str]]]  # node id -> (id, host) on the node at the end
    pending_after_wait: int
    resources: dict[str, Any]
    faults_planned: int


class Checks:
    def __init__(self, inputs: Inputs) -> None:
        self.i = inputs
        self.records = [Record.of(r) for r in inputs.records]
        self.by_request: dict[str, list[Record]] = {}
        for record in self.records:
            self.by_request.setdefault(record.request_id, []).append(record)
        self.kill_calls = [c for c in inputs.calls if c.op in KILL_OPS]
        self.task_records = [
            r
            for r in self.records
            if r.raw.get("action") == "killTask" and r.raw.get("task_id") == inputs.task_id
        ]
        self.sessions: dict[Key, list[Session]] = {}
        for session in inputs.sessions:
            self.sessions.setdefault(session.key, []).append(session)

    # -- helpers ---------------------------------------------------------------------------------
    def node_name(self, record: Record) -> str | None:
        return self.i.node_names.get(str(record.raw.get("node_id")))

    def record_epoch(self, record: Record) -> int | None:
        """Which life of its node's server a record's kills happened in (the number of restarts
        before it), or None when the record overlaps a restart. Thread ids start again at every
        restart, so an id and a client port name a session only within one life."""
        name = self.node_name(record)
        epoch = 0
        for window in self.i.faults.windows:
            if window.node != name or window.kind != "restart":
                continue
            if record.end + SLACK < window.start:
                break
            if window.end is not None and record.start - SLACK > window.end:
                epoch += 1
                continue
            return None
        return epoch

    def same_life(self, record: Record, session: Session) -> bool:
        epoch = self.record_epoch(record)
        return epoch is None or epoch == session.epoch

    def current_epoch(self, record: Record) -> int:
        name = self.node_name(record)
        return sum(1 for w in self.i.faults.windows if w.node == name and w.kind == "restart")

    def cut_by_fault(self, record: Record) -> bool:
        return record.raw.get("error_code") == NODE_ERROR and self.i.faults.faulted(
            self.node_name(record), record.start - SLACK, record.end + SLACK
        )

    # -- the invariants --------------------------------------------------------------------------
    def run(self) -> list[Invariant]:
        return [
            self.every_call_answered(),
            self.no_unexpected_status(),
            self.no_5xx_outside_faults(),
            self.one_record_per_kill_call(),
            self.answers_match_the_trail(),
            self.task_passes_recorded_once(),
            self.no_record_unaccounted_for(),
            self.nothing_pending(),
            self.interrupted_only_by_faults(),
            self.audited_kills_are_gone(),
            self.every_disappearance_audited(),
            self.bystanders_untouched(),
            self.no_leak(),
            self.the_run_did_its_work(),
        ]

    def every_call_answered(self) -> Invariant:
        silent = [c.as_dict() for c in self.i.calls if c.status == 0]
        return Invariant(
            "every call answered",
            not silent,
            f"{len(silent)} of {len(self.i.calls)} calls got no answer",
            silent,
        )

    def no_unexpected_status(self) -> Invariant:
        odd = [
            c.as_dict() | {"body": c.body}
            for c in self.i.calls
            if 0 < c.status < 500 and c.status not in (200, 201)
        ]
        return Invariant("no 4xx", not odd, f"{len(odd)} answers with an unexpected 4xx status", odd)

    def fivexx(self) -> tuple[list[Call], list[Call]]:
        allowed, other = [], []
        for call in self.i.calls:
            if call.status < 500:
                continue
            if call.error_code == NODE_ERROR and self.i.faults.faulted(call.node, call.t0, call.t1):
                allowed.append(call)
            else:
                other.append(call)
        return allowed, other

    def no_5xx_outside_faults(self) -> Invariant:
        allowed, other = self.fivexx()
        return Invariant(
            "no 5xx but node errors on a faulted node",
            not other,
            f"{len(allowed)} DBS.200005 while the node was faulted (allowed), {len(other)} other 5xx",
            [c.as_dict() | {"body": c.body} for c in other],
        )

    def one_record_per_kill_call(self) -> Invariant:
        problems: list[dict[str, Any]] = []
        for call in self.kill_calls:
            if call.request_id is None:
                continue  # no answer: reported by "every call answered"
            found = self.by_request.get(call.request_id, [])
            if len(found) != 1:
                problems.append({"call": call.as_dict(), "records": len(found)})
                continue
            raw = found[0].raw
            expected = "ok" if call.status in (200, 201) else "failed"
            outcome_ok = raw["outcome"] == expected or (
                raw["outcome"] == "interrupted" and self.i.faults.faulted(call.node, call.t0, call.t1)
            )
            if raw["action"] != KILL_OPS[call.op] or raw["http_status"] != call.status or not outcome_ok:
                problems.append(
                    {
                        "call": call.as_dict(),
                        "record": {k: raw.get(k) for k in ("action", "outcome", "http_status", "error_code")},
                    }
                )
        return Invariant(
            "one audit record per kill call",
            not problems,
            f"{len(self.kill_calls)} kill calls, {len(problems)} without exactly one matching record",
            problems,
        )

    def answers_match_the_trail(self) -> Invariant:
        mismatches: list[dict[str, Any]] = []
        for call in self.kill_calls:
            if call.status != 200 or call.request_id is None or not isinstance(call.body, dict):
                continue
            found = self.by_request.get(call.request_id, [])
            if len(found) != 1:
                continue
            record = found[0]
            if call.op == "delete":
                answered: list[Any] = sorted(call.body.get("processes_killed", []))
                audited: list[Any] = sorted(int(r["id"]) for r in record.killed())
            elif call.op == "kill_by_filter":
                answered = sorted((int(r["id"]), r["outcome"]) for r in call.body.get("results", []))
                audited = sorted((int(r["id"]), r["outcome"]) for r in record.results)
            else:
                continue
            if answered != audited:
                mismatches.append({"request_id": call.request_id, "answer": answered, "trail": audited})
        return Invariant(
            "answers agree with the trail",
            not mismatches,
            f"{len(mismatches)} successful kill calls whose answer differs from their record",
            mismatches,
        )

    def task_passes_recorded_once(self) -> Invariant:
        task = self.i.task or {}
        ids = Counter(r.request_id for r in self.task_records)
        doubled = [rid for rid, n in ids.items() if n > 1]
        with_kills = [r for r in self.task_records if r.killed()]
        audited = sum(len(r.killed()) for r in self.task_records)
        counted = int(task.get("victims_killed", -1))
        passes = int(task.get("passes", -1))
        bad_failures = [
            {k: r.raw.get(k) for k in ("request_id", "at", "outcome", "error_code", "duration_ms")}
            for r in self.task_records
            if r.raw.get("outcome") != "ok" and not self.cut_by_fault(r)
        ]
        ok = (
            self.i.task_id is not None
            and not doubled
            and audited == counted
            and len(with_kills) <= passes
            and not bad_failures
            and task.get("state") == "stopped"
        )
        return Invariant(
            "task passes recorded once",
            ok,
            f"task {task.get('state')}: {passes} passes, {counted} victims counted by the task; "
            f"{len(self.task_records)} pass records ({len(with_kills)} with kills) holding {audited} kills; "
            f"{len(doubled)} request ids recorded twice; {len(bad_failures)} failed passes outside faults",
            [{"doubled": doubled}, *bad_failures] if doubled or bad_failures else [],
        )

    def no_record_unaccounted_for(self) -> Invariant:
        ours = {c.request_id for c in self.kill_calls if c.request_id}
        task_ids = {r.request_id for r in self.task_records}
        stray = [
            {k: r.raw.get(k) for k in ("request_id", "action", "outcome", "actor_name", "task_id")}
            for r in self.records
            if r.request_id not in ours and r.request_id not in task_ids
        ]
        return Invariant(
            "no audit record without its call",
            not stray,
            f"{len(self.records)} records, {len(stray)} matching no call of the soak and no pass of its task",
            stray,
        )

    def nothing_pending(self) -> Invariant:
        pending = [r.raw for r in self.records if r.raw.get("outcome") == "pending"]
        return Invariant(
            "no record left pending",
            self.i.pending_after_wait == 0 and not pending,
            f"{self.i.pending_after_wait} records pending at the end",
            pending,
        )

    def interrupted_only_by_faults(self) -> Invariant:
        interrupted = [r for r in self.records if r.raw.get("outcome") == "interrupted"]
        bad = [
            r.raw
            for r in interrupted
            if not self.i.faults.faulted(self.node_name(r), r.start - SLACK, r.end + SLACK)
        ]
        return Invariant(
            "interrupted only when cut by a fault",
            not bad,
            f"{len(interrupted)} interrupted records, {len(bad)} outside any fault",
            bad,
        )

    def killed_entries(self) -> list[tuple[Record, dict[str, Any]]]:
        return [(record, entry) for record in self.records for entry in record.killed()]

    def audited_kills_are_gone(self) -> Invariant:
        problems: list[dict[str, Any]] = []
        verified = unverifiable = 0
        for record, entry in self.killed_entries():
            key = (str(record.raw.get("node_id")), int(entry["id"]), str(entry.get("host")))
            where = {"request_id": record.request_id, "id": entry["id"], "host": entry.get("host")}
            on_node_now = (key[1], key[2]) in self.i.final_threads.get(key[0], set())
            if on_node_now and self.record_epoch(record) == self.current_epoch(record):
                problems.append(where | {"why": "reported killed, still on the node at the end"})
                continue
            matches = [s for s in self.sessions.get(key, []) if self.same_life(record, s)]
            if len(matches) != 1:
                problems.append(where | {"why": f"matches {len(matches)} sessions the soak opened"})
                continue
            session = matches[0]
            if session.alive_seen_at > record.end + SLACK:
                problems.append(
                    where | {"why": f"seen alive {session.alive_seen_at - record.end:.2f} s after the record"}
                )
            elif session.state == OPEN:
                problems.append(where | {"why": "still open on the node"})
            elif session.state == GONE:
                verified += 1
            else:
                unverifiable += 1  # lost to the restart, or closed by the soak before it was seen
        return Invariant(
            "audited kills are gone from the node",
            not problems,
            f"{verified + unverifiable + len(problems)} ids reported killed: {verified} seen gone on the "
            f"node, {unverifiable} unverifiable (server restarted before the check), "
            f"{len(problems)} contradicted",
            problems,
        )

    def every_disappearance_audited(self) -> Invariant:
        killed: dict[Key, list[Record]] = {}
        unknown: dict[Key, list[Record]] = {}
        for record in self.records:
            node_id = str(record.raw.get("node_id"))
            for entry in record.results:
                key = (node_id, int(entry["id"]), str(entry.get("host")))
                if entry.get("outcome") == "killed":
                    killed.setdefault(key, []).append(record)
                elif entry.get("outcome") == "unknown" and self.cut_by_fault(record):
                    unknown.setdefault(key, []).append(record)
        problems: list[dict[str, Any]] = []
        by_kill = by_unknown = 0
        for session in self.i.sessions:
            if session.state != GONE or session.purpose == "bystander":
                continue
            where = {"purpose": session.purpose, "id": session.thread_id, "host": session.host}
            authors = [r for r in killed.get(session.key, []) if self.same_life(r, session)]
            guesses = [r for r in unknown.get(session.key, []) if self.same_life(r, session)]
            if len(authors) == 1:
                action = authors[0].raw.get("action")
                if action != AUTHOR[session.purpose]:
                    problems.append(where | {"why": f"killed by {action}, which never targets this account"})
                else:
                    by_kill += 1
            elif len(authors) > 1:
                problems.append(where | {"why": f"reported killed by {len(authors)} records"})
            elif guesses:
                by_unknown += 1
            else:
                problems.append(where | {"why": "gone from the node, and no record says it was killed"})
        return Invariant(
            "every disappearance audited",
            not problems,
            f"{by_kill + by_unknown + len(problems)} of the soak's sessions disappeared: {by_kill} reported "
            f"killed by exactly one record, {by_unknown} reported unknown by a call a fault cut off, "
            f"{len(problems)} unexplained",
            problems,
        )

    def bystanders_untouched(self) -> Invariant:
        bystanders = [s for s in self.i.sessions if s.purpose == "bystander"]
        touched = [
            {"id": s.thread_id, "host": s.host, "state": s.state} for s in bystanders if s.state == GONE
        ]
        lost = sum(1 for s in bystanders if s.state == LOST)
        return Invariant(
            "bystanders untouched",
            not touched,
            f"{len(bystanders)} bystander sessions: {len(touched)} disappeared, {lost} lost to the restart",
            touched,
        )

    def no_leak(self) -> Invariant:
        rss = self.i.resources["rss_mib"]
        fds = self.i.resources["fds"]
        ok = (
            fds["growth"] <= FD_GROWTH_LIMIT
            and rss["growth"] <= RSS_GROWTH_LIMIT_MIB
            and rss["growth_second_half_of_load"] <= RSS_SECOND_HALF_LIMIT_MIB
        )
        return Invariant(
            "no leak",
            ok,
            f"fds {fds['start']} -> {fds['end']} (limit +{FD_GROWTH_LIMIT}); "
            f"RSS {rss['start']} -> {rss['end']} MiB (limit +{RSS_GROWTH_LIMIT_MIB:g}), "
            f"{rss['growth_second_half_of_load']:+g} MiB over the second half of the load "
            f"(limit +{RSS_SECOND_HALF_LIMIT_MIB:g})",
        )

    def the_run_did_its_work(self) -> Invariant:
        ok_calls = Counter(c.op for c in self.i.calls if c.status in (200, 201))
        gone = Counter(s.purpose for s in self.i.sessions if s.state == GONE)
        done = [w for w in self.i.faults.windows if w.end is not None]
        wanted = {
            "delete answered 200": ok_calls["delete"] > 0,
            "kill by filter answered 200": ok_calls["kill_by_filter"] > 0,
            "lists answered 200": ok_calls["list_filtered"] > 0 and ok_calls["console_list"] > 0,
            "storm sessions killed": gone["storm"] > 0,
            "sweep sessions killed": gone["sweep"] > 0,
            "task sessions killed": gone["task"] > 0,
            "every planned fault carried out and ended": len(done) == self.i.faults_planned,
        }
        missing = [name for name, met in wanted.items() if not met]
        return Invariant(
            "the run did its work",
            not missing,
            "all of: " + ", ".join(wanted) if not missing else "missing: " + ", ".join(missing),
        )


def check(inputs: Inputs) -> list[Invariant]:
    return Checks(inputs).run()


__all__ = ["GONE", "LOST", "OPEN", "SELF_CLOSED", "Inputs", "Invariant", "check"]
