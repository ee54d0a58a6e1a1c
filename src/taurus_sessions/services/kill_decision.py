"""The kill decision, shared by the faithful DELETE, the kill-with-reasons extension, kill by filter
and kill tasks: read the named threads on the node *now*, decide per id, KILL only what passes.

Per id, in this order: not on the node → ``not_found``; internal (Part D, judged by the node in the
same read) → ``internal``; the caller's expectation no longer holds → ``changed``; a dry run →
``would_kill``; otherwise the node's answer to the KILL → ``killed`` / ``not_found`` / ``denied``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from taurus_sessions.domain import KillMode, KillResult, Outcome, Process, Thread
from taurus_sessions.nodes.driver import KillProgress, NodeSession
from taurus_sessions.services.audit_trail import AuditTrail, KillCall


@dataclass(frozen=True, slots=True)
class Expectation:
    """What the caller believes a thread is; any field given must still match exactly."""

    user: str | None = None
    host: str | None = None
    db: str | None = None
    command: str | None = None
    info: str | None = None

    def mismatches(self, process: Process) -> list[str]:
        changed = []
        for name in ("user", "host", "db", "command", "info"):
            expected = getattr(self, name)
            if expected is not None and getattr(process, name) != expected:
                changed.append(name)
        return changed


@dataclass(frozen=True, slots=True)
class Verdict:
    thread_id: int
    outcome: Outcome
    process: Process | None  # what the thread was at kill time (None when absent or internal)
    changed: tuple[str, ...] = ()


def unique_in_order(values: Sequence[int]) -> list[int]:
    return list(dict.fromkeys(values))


def _decide(
    thread_id: int, thread: Thread | None, expectation: Expectation | None, dry_run: bool
) -> Verdict | None:
    """A final verdict that needs no KILL, or None when the thread should be killed."""
    if thread is None:
        return Verdict(thread_id, Outcome.NOT_FOUND, None)
    if thread.internal:
        return Verdict(thread_id, Outcome.INTERNAL, None)
    if expectation is not None:
        changed = expectation.mismatches(thread.process)
        if changed:
            return Verdict(thread_id, Outcome.CHANGED, thread.process, tuple(changed))
    if dry_run:
        return Verdict(thread_id, Outcome.WOULD_KILL, thread.process)
    return None


_FROM_NODE = {
    KillResult.KILLED: Outcome.KILLED,
    KillResult.NO_SUCH_THREAD: Outcome.NOT_FOUND,
    KillResult.DENIED: Outcome.DENIED,
}


async def kill_threads(
    session: NodeSession,
    audit: AuditTrail,
    call: KillCall,
    thread_ids: Sequence[int],
    mode: KillMode,
    *,
    expectations: Mapping[int, Expectation] | None = None,
    dry_run: bool = False,
    known: Mapping[int, Thread] | None = None,
) -> list[Verdict]:
    """Decide and KILL; ``known`` skips the read when the caller has just read these threads.

    Write-ahead: before the first KILL, the audit record holds every intended victim (id, user,
    host, db, command, statement), committed — so a process that dies mid-sweep leaves the trail
    true, and recovery settles it from the node (``audit_recovery.py``)."""
    ids = unique_in_order(thread_ids)
    threads = dict(known) if known is not None else await session.threads(ids)
    expectations = expectations or {}
    verdicts: dict[int, Verdict] = {}
    to_kill: list[int] = []
    for thread_id in ids:
        verdict = _decide(thread_id, threads.get(thread_id), expectations.get(thread_id), dry_run)
        if verdict is None:
            to_kill.append(thread_id)
        else:
            verdicts[thread_id] = verdict
    ahead: dict[int, dict[str, Any]] = {}
    if to_kill:
        call.intend([threads[i].process for i in to_kill])
        ahead = {entry["id"]: entry for entry in call.intended}
        await audit.begin(call)  # committed before any KILL; failing here kills nothing
        progress = KillProgress()
        try:
            await session.kill([threads[i] for i in to_kill], mode, progress)
        except BaseException:
            interrupted = [_interrupted(i, threads[i].process, progress) for i in to_kill]
            _record(call, [*verdicts.values(), *interrupted], ahead)
            raise
        for thread_id in to_kill:
            outcome = _FROM_NODE[progress.answers[thread_id]]
            verdicts[thread_id] = Verdict(thread_id, outcome, threads[thread_id].process)
    ordered = [verdicts[thread_id] for thread_id in ids]
    _record(call, ordered, ahead)
    return ordered


def _interrupted(thread_id: int, process: Process, progress: KillProgress) -> Verdict:
    """What is known of one victim when the sweep was cut off: the node's answer if it came; sent
    without an answer, ``unknown``; never sent, ``not_sent`` (the session was not touched)."""
    answer = progress.answers.get(thread_id)
    if answer is not None:
        return Verdict(thread_id, _FROM_NODE[answer], process)
    return Verdict(thread_id, Outcome.UNKNOWN if thread_id in progress.sent else Outcome.NOT_SENT, process)


_OUTCOME = {outcome: outcome.value for outcome in Outcome}  # an enum's .value is a slow lookup


def _record(call: KillCall, verdicts: Sequence[Verdict], ahead: Mapping[int, dict[str, Any]]) -> None:
    """The results; a victim's entry written ahead in this pass (``ahead``, from the same process
    the verdict carries) is reused with its outcome."""
    for verdict in verdicts:
        entry = ahead.get(verdict.thread_id)
        if entry is not None:
            call.results.append({**entry, "outcome": _OUTCOME[verdict.outcome]})
        else:
            call.add_result(verdict.thread_id, _OUTCOME[verdict.outcome], verdict.process)
