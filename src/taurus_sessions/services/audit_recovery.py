"""Settles audit records that a call left pending (its process died between writing the intended
victims and writing their outcomes): after the longest time a call can take, whichever process
finds such a record asks the node what became of each intended victim — ``killed`` (gone from the
node), ``alive`` (still there: the KILL was never sent or failed) or ``unknown`` (the node cannot
be reached) — and marks the record ``interrupted``. One conditional update decides which process
settles it, so replicas can all look."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from taurus_sessions.domain import Outcome
from taurus_sessions.errors import ApiError
from taurus_sessions.inventory.audit_events import AuditStore
from taurus_sessions.inventory.models import AuditEvent
from taurus_sessions.services.audit_trail import PENDING
from taurus_sessions.services.node_access import NodeAccess, NodeRef

log = logging.getLogger(__name__)


class AuditRecovery:
    def __init__(
        self,
        store: AuditStore,
        nodes: NodeAccess,
        longest_call: float,
        owner: str,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._nodes = nodes
        self.longest_call = longest_call
        self._owner = owner
        self._clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def settle_stale(self) -> int:
        """Settle every record pending for longer than a call can take; how many this process did."""
        settled = 0
        before = self._now() - timedelta(seconds=self.longest_call)
        for event in await self._store.pending_before(before):
            results = await self._what_became_of(event)
            if await self._store.settle(event.id, results, self._now(), self._owner):
                settled += 1
                log.warning(
                    "settled an interrupted kill call",
                    extra={"audit_event_id": event.id, "request_id": event.request_id},
                )
        return settled

    async def _what_became_of(self, event: AuditEvent) -> list[dict[str, Any]]:
        victims = [r for r in event.results if r.get("outcome") == PENDING]
        decided = [r for r in event.results if r.get("outcome") != PENDING]
        if not victims:
            return decided
        found = await self._threads(event, [int(v["id"]) for v in victims])
        return decided + [_settled(victim, found) for victim in victims]

    async def _threads(self, event: AuditEvent, ids: list[int]) -> dict[int, tuple[str, str]] | None:
        """(user, host) of the named threads on the node now; None when it cannot be asked."""
        if not (event.project_id and event.instance_id and event.node_id):
            return None
        try:
            target = await self._nodes.targets.node(
                NodeRef(event.project_id, event.instance_id, event.node_id)
            )
            async with self._nodes.session(target) as session:
                threads = await session.threads(ids)
        except ApiError as exc:
            log.warning("cannot ask the node about an interrupted call: %s", exc.code)
            return None
        return {tid: (t.process.user, t.process.host) for tid, t in threads.items()}


def _settled(victim: dict[str, Any], found: dict[int, tuple[str, str]] | None) -> dict[str, Any]:
    if found is None:
        return victim | {"outcome": Outcome.UNKNOWN.value}
    # Thread ids restart after a server restart: a thread with the id is the victim only if it is
    # still the same account from the same client address and port.
    same = found.get(int(victim["id"])) == (victim.get("user"), victim.get("host"))
    return victim | {"outcome": (Outcome.ALIVE if same else Outcome.KILLED).value}
