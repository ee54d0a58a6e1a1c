"""The audit trail of kills: initiator, action, target, outcome — written before the answer leaves.

Every kill call passes through ``AuditTrail.kill_call``: refused calls (bad token, no right, bad
body) and failed ones (node down) are recorded as well as successful ones. Before any KILL is sent
the record is written as ``pending`` (``begin``), so no session is ever killed without a trace even
if the process dies mid-call; the outcome then completes that record.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from taurus_sessions import metrics
from taurus_sessions.auth.caller import Caller
from taurus_sessions.domain import Process
from taurus_sessions.errors import ApiError, AuditUnavailable, InternalError
from taurus_sessions.inventory.audit_events import AuditStore
from taurus_sessions.services.anonymous_refusals import AnonymousRefusals
from taurus_sessions.services.call_context import CallContext

log = logging.getLogger(__name__)

STATEMENT_LIMIT = 2000  # characters of a killed statement kept in the trail
PENDING = "pending"


@dataclass
class KillCall:
    """A kill call being recorded; the service fills it in as it learns more."""

    ctx: CallContext
    action: str
    project_id: str | None = None
    instance_id: str | None = None
    node_id: str | None = None
    caller: Caller | None = None
    task_id: str | None = None
    record_if_empty: bool = True  # False: a successful call that touched nothing leaves no record
    ok_status: int = 200  # the status a successful call answers with (201 for a created task)
    mode: str | None = None
    dry_run: bool = False
    requested: dict[str, Any] = field(default_factory=dict)
    results: list[dict[str, Any]] = field(default_factory=list)
    intended: list[dict[str, Any]] = field(default_factory=list)
    event_id: int | None = None

    def add_result(self, thread_id: int, outcome: str, process: Process | None = None) -> None:
        self.results.append(victim_entry(thread_id, outcome, process))

    def intend(self, victims: Sequence[Process]) -> None:
        """The sessions about to be killed, written ahead of the KILLs (outcome ``pending``)."""
        self.intended = [victim_entry(process.id, PENDING, process) for process in victims]


def victim_entry(thread_id: int, outcome: str, process: Process | None) -> dict[str, Any]:
    """One id of a record: its outcome and what the thread was (the statement clipped)."""
    entry: dict[str, Any] = {"id": thread_id, "outcome": outcome}
    if process is not None:
        entry |= {
            "user": process.user,
            "host": process.host,
            "db": process.db,
            "command": process.command,
            "time": process.time,
            "info": process.info[:STATEMENT_LIMIT] if process.info else process.info,
        }
    return entry


class AuditTrail:
    def __init__(self, store: AuditStore, anonymous: AnonymousRefusals) -> None:
        self._store = store
        self.anonymous = anonymous

    @asynccontextmanager
    async def kill_call(
        self, ctx: CallContext, action: str, caller: Caller | None = None
    ) -> AsyncIterator[KillCall]:
        call = KillCall(ctx, action, caller=caller)
        try:
            yield call
        except ApiError as exc:
            await self._finish(call, "refused" if exc.status < 500 else "failed", exc.status, exc.code)
            raise
        except Exception:
            await self._finish(call, "failed", 500, InternalError.code)
            raise
        await self._finish(call, "ok", call.ok_status, None)

    async def begin(self, call: KillCall) -> None:
        """Write the record, pending, with every intended victim, before any KILL (write-ahead).
        Failing here means nothing is killed: no KILL without its record (fail closed)."""
        event = self._event(call, PENDING, 0, None) | {"results": call.intended}
        try:
            call.event_id = await self._store.insert(event)
        except Exception as exc:
            log.exception("the audit record could not be written: nothing is killed")
            raise AuditUnavailable() from exc

    async def _finish(self, call: KillCall, outcome: str, status: int, code: str | None) -> None:
        counted: dict[str, int] = {}
        for result in call.results:
            counted[result["outcome"]] = counted.get(result["outcome"], 0) + 1
        for result_outcome, count in counted.items():
            metrics.child(metrics.KILLS, call.action, result_outcome).inc(count)
        if outcome == "ok" and not call.results and not call.record_if_empty and call.event_id is None:
            return
        if call.caller is None and call.task_id is None and outcome == "refused":
            # Nobody authenticated: counted per source address and minute, not one row per request.
            await self.anonymous.add(self._event(call, outcome, status, code))
            return
        duration_ms = round((time.monotonic() - call.ctx.started_monotonic) * 1000, 3)
        try:
            if call.event_id is None:
                event = self._event(call, outcome, status, code)
                event["duration_ms"] = duration_ms
                call.event_id = await self._store.insert(event)
            else:
                await self._store.finish(
                    call.event_id,
                    outcome=outcome,
                    http_status=status,
                    error_code=code,
                    results=call.results,
                    duration_ms=duration_ms,
                    mode=call.mode,
                    requested=call.requested,
                )
        except Exception as exc:
            # Any kills already happened: the pending record holds their intended victims and
            # recovery settles it from the node (audit_recovery.py). Say so loudly.
            log.exception(
                "audit record could not be completed",
                extra={"request_id": call.ctx.request_id, "audit_event_id": call.event_id},
            )
            if call.event_id is None and outcome == "ok":
                # A call that answers "done" must leave its record; a refusal keeps its own answer.
                raise AuditUnavailable() from exc

    @staticmethod
    def _event(call: KillCall, outcome: str, status: int, code: str | None) -> dict[str, Any]:
        caller = call.caller
        if caller is None:
            kind = "anonymous"
        elif caller.method == "task":
            kind = "task"  # a kill task acting for its creator
        else:
            kind = "access_key" if caller.access_key else "user"
        return {
            "at": call.ctx.started_at,
            "request_id": call.ctx.request_id,
            "action": call.action,
            "project_id": call.project_id,
            "instance_id": call.instance_id,
            "node_id": call.node_id,
            "actor_kind": kind,
            "actor_user_id": caller.user_id if caller else None,
            "actor_name": caller.display_name if caller else None,
            "access_key": caller.access_key if caller else None,
            "task_id": call.task_id,
            "source_ip": call.ctx.source_ip,
            "mode": call.mode,
            "dry_run": call.dry_run,
            "requested": call.requested,
            "outcome": outcome,
            "http_status": status,
            "error_code": code,
            "results": call.results,
        }
