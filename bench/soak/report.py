"""The soak's figures: the JSON document's summaries and the table printed at the end."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from bench.soak.client import Call
from bench.soak.ledger import GONE, Session
from bench.soak.schedule import FaultLog
from bench.soak.verify import KILL_OPS, NODE_ERROR, Invariant
from bench.stats import percentile


def requests_summary(calls: list[Call], faults: FaultLog) -> dict[str, Any]:
    by_op: dict[str, list[Call]] = defaultdict(list)
    for call in calls:
        by_op[call.op].append(call)
    table: dict[str, Any] = {}
    for op, group in sorted(by_op.items()):
        answered = [c.seconds * 1000 for c in group if c.status]
        table[op] = {
            "total": len(group),
            "statuses": dict(sorted(Counter(str(c.status) for c in group).items())),
            "p50_ms": round(percentile(answered, 50), 1) if answered else None,
            "p99_ms": round(percentile(answered, 99), 1) if answered else None,
            "max_ms": round(max(answered), 1) if answered else None,
        }
    fivexx = [c for c in calls if c.status >= 500]
    allowed = [c for c in fivexx if c.error_code == NODE_ERROR and faults.faulted(c.node, c.t0, c.t1)]
    other = [c for c in fivexx if c not in allowed]
    lags = [min(c.t0 - (w.end or c.t0) for w in faults.covering(c.node, c.t0, c.t1)) for c in allowed]
    return {
        "total": len(calls),
        "by_status": dict(sorted(Counter(str(c.status) for c in calls).items())),
        "by_operation": table,
        "errors_5xx": {
            "total": len(fivexx),
            "node_errors_while_faulted": len(allowed),
            "other": len(other),
            "other_by_code": dict(Counter(f"{c.status} {c.error_code}" for c in other)),
            # the latest start of an allowed node error after its fault ended (within the grace)
            "latest_after_fault_end_s": round(max(lags), 2) if lags else None,
        },
        "per_fault": per_fault(calls, faults),
    }


def per_fault(calls: list[Call], faults: FaultLog) -> list[dict[str, Any]]:
    """For each fault: the calls to the faulted node and to the other nodes while it lasted
    (grace included), and how many of each were node errors."""
    rows = []
    for window in faults.windows:
        end = (window.end if window.end is not None else window.start) + faults.grace
        during = [c for c in calls if c.node is not None and c.t0 <= end and c.t1 >= window.start]
        on = [c for c in during if c.node == window.node]
        off = [c for c in during if c.node != window.node]
        rows.append(
            {
                "node": window.node,
                "kind": window.kind,
                "seconds": round((window.end or window.start) - window.start, 1),
                "calls_to_it": len(on),
                "node_errors_from_it": sum(1 for c in on if c.error_code == NODE_ERROR),
                "calls_to_other_nodes": len(off),
                "errors_from_other_nodes": sum(1 for c in off if c.status >= 500 or c.status == 0),
            }
        )
    return rows


def audit_summary(calls: list[Call], records: list[dict[str, Any]], task_id: str | None) -> dict[str, Any]:
    kill_calls = [c for c in calls if c.op in KILL_OPS]
    task_records = [r for r in records if r.get("action") == "killTask" and r.get("task_id") == task_id]
    killed_entries = sum(1 for r in records for e in r.get("results") or [] if e.get("outcome") == "killed")
    return {
        "kill_calls": dict(Counter(c.op for c in kill_calls)),
        "kill_calls_answered": sum(1 for c in kill_calls if c.request_id),
        "records": len(records),
        "records_by_action": dict(Counter(str(r.get("action")) for r in records)),
        "records_by_outcome": dict(Counter(str(r.get("outcome")) for r in records)),
        "task_pass_records": len(task_records),
        "task_pass_records_with_kills": sum(
            1 for r in task_records if any(e.get("outcome") == "killed" for e in r.get("results") or [])
        ),
        "ids_reported_killed": killed_entries,
        "entry_outcomes": dict(
            Counter(str(e.get("outcome")) for r in records for e in r.get("results") or [])
        ),
    }


def sessions_summary(sessions: list[Session]) -> dict[str, Any]:
    by_purpose: dict[str, Counter[str]] = defaultdict(Counter)
    for session in sessions:
        by_purpose[session.purpose][session.state] += 1
    return {
        "opened": len(sessions),
        "seen_gone": sum(1 for s in sessions if s.state == GONE),
        "by_purpose": {purpose: dict(states) for purpose, states in sorted(by_purpose.items())},
    }


def table(document: dict[str, Any]) -> str:
    lines = [
        f"taurus-sessions soak: {document['minutes']:g} min of load, "
        f"{len(document['faults'])} faults, grace {document['grace_s']:g} s",
        "",
        "| operation | calls | statuses | p50 ms | p99 ms | max ms |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for op, row in document["requests"]["by_operation"].items():
        statuses = ", ".join(f"{status}: {n}" for status, n in row["statuses"].items())
        lines.append(
            f"| {op} | {row['total']} | {statuses} | {row['p50_ms']} | {row['p99_ms']} | {row['max_ms']} |"
        )
    fivexx = document["requests"]["errors_5xx"]
    res = document["resources"]
    audit = document["audit"]
    lines += [
        "",
        f"requests: {document['requests']['total']}, by status {document['requests']['by_status']}",
        f"5xx: {fivexx['total']} = {fivexx['node_errors_while_faulted']} DBS.200005 on a faulted node "
        f"(allowed) + {fivexx['other']} other {fivexx['other_by_code'] or ''}; latest allowed one "
        f"started {fivexx['latest_after_fault_end_s']} s after its fault ended",
        f"service RSS MiB: start {res['rss_mib']['start']}, end {res['rss_mib']['end']}, "
        f"max {res['rss_mib']['max']}, growth {res['rss_mib']['growth']} "
        f"({res['rss_mib']['growth_second_half_of_load']:+g} over the second half of the load; "
        f"{res['rss_mib']['after_checks']} after the checks read the whole trail)",
        f"service fds: start {res['fds']['start']}, end {res['fds']['end']}, max {res['fds']['max']}, "
        f"growth {res['fds']['growth']}",
        f"CPU: service {res['cpu_share_of_one_core']:.0%} of one core, load generator "
        f"{res['soak_cpu_share_of_one_core']:.0%}, machine "
        f"{res['machine_cpu_percent_all_cores']}% of all cores",
        f"audit: {audit['kill_calls_answered']} kill calls answered {audit['kill_calls']}; "
        f"{audit['records']} records {audit['records_by_outcome']}; "
        f"{audit['task_pass_records']} task pass records "
        f"({audit['task_pass_records_with_kills']} with kills)",
        f"ids reported killed by the trail: {audit['ids_reported_killed']}; "
        f"sessions seen gone on the nodes: {document['sessions']['seen_gone']} "
        f"of {document['sessions']['opened']} opened",
        "",
    ]
    for invariant in document["invariants"]:
        mark = "ok  " if invariant["ok"] else "FAIL"
        lines.append(f"{mark} {invariant['name']}: {invariant['detail']}")
    lines += [
        "",
        "| fault | node | lasted s | calls to it | node errors | calls to the other node | errors there |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for number, row in enumerate(document["requests"]["per_fault"], 1):
        lines.append(
            f"| {number} {row['kind']} | {row['node']} | {row['seconds']} | {row['calls_to_it']} | "
            f"{row['node_errors_from_it']} | {row['calls_to_other_nodes']} | "
            f"{row['errors_from_other_nodes']} |"
        )
    lines.append("")
    lines.append("PASSED" if document["ok"] else "FAILED")
    return "\n".join(lines)


def invariants_json(invariants: list[Invariant]) -> list[dict[str, Any]]:
    return [i.as_dict() for i in invariants]
