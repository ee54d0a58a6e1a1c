"""Reading the audit trail (API and CLI alike): access check, query, one rendering of a record."""

from __future__ import annotations

from typing import Any

from taurus_sessions.auth import policy
from taurus_sessions.auth.access import AccessControl
from taurus_sessions.auth.caller import Caller
from taurus_sessions.inventory.audit_events import AuditQuery, AuditStore
from taurus_sessions.inventory.models import AuditEvent


def event_dict(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "request_id": event.request_id,
        "action": event.action,
        "project_id": event.project_id,
        "instance_id": event.instance_id,
        "node_id": event.node_id,
        "actor_kind": event.actor_kind,
        "actor_user_id": event.actor_user_id,
        "actor_name": event.actor_name,
        "access_key": event.access_key,
        "task_id": event.task_id,
        "source_ip": event.source_ip,
        "mode": event.mode,
        "dry_run": event.dry_run,
        "requested": event.requested,
        "outcome": event.outcome,
        "http_status": event.http_status,
        "error_code": event.error_code,
        "results": event.results,
        "duration_ms": event.duration_ms,
        "occurrences": event.occurrences,  # refusals of nobody authenticated are counted, not listed
        "last_at": event.last_at.isoformat() if event.last_at else None,
    }


class AuditReader:
    def __init__(self, access: AccessControl, store: AuditStore) -> None:
        self._access = access
        self._store = store

    async def list_audit_events(self, caller: Caller, query: AuditQuery) -> tuple[list[dict[str, Any]], int]:
        """The trail of one project; ``query.project_id`` must be set (a caller sees one project)."""
        assert query.project_id is not None
        await self._access.require(caller, query.project_id, policy.LIST_AUDIT)
        events, total = await self._store.query(query)
        return [event_dict(event) for event in events], total
