"""Refused kill calls of callers who never authenticated, kept as one audit record per source
address, project and minute, with a count — so a stranger's flood of unsigned DELETEs adds a
handful of rows, not one per request, and can never fill the disk that every real kill needs for
its own record.

The first refusal of a window is written at once (the trail shows the attack while it happens);
later ones are counted in memory and written by ``flush``, which a background job calls every few
seconds and the process calls once more when it stops.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from taurus_sessions.inventory.audit_events import AuditStore

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60
ACTION = "unauthenticated"  # the record's action: the requested ones are counted inside it

Key = tuple[str | None, str | None, int]  # source address, existing project id, window number


@dataclass
class _Window:
    first: dict[str, Any]
    event_id: int | None = None
    count: int = 1
    written: int = 1
    last_at: datetime | None = None
    actions: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)

    def breakdown(self) -> dict[str, Any]:
        return {"actions": dict(self.actions), "error_codes": dict(self.codes)}


class AnonymousRefusals:
    def __init__(
        self,
        store: AuditStore,
        project_exists: Callable[[str], Awaitable[bool]],
        clock: Callable[[], float],
        window_seconds: int = WINDOW_SECONDS,
    ) -> None:
        self._store = store
        self._project_exists = project_exists
        self._clock = clock
        self._window = window_seconds
        self._open: dict[Key, _Window] = {}

    async def add(self, event: dict[str, Any]) -> None:
        """Count one refusal (``event`` as the audit trail would have written it)."""
        project = event.get("project_id")
        if project is not None and not await self._project_exists(project):
            project = None  # a made-up project id is not kept, and cannot multiply the records
        now = self._clock()
        key: Key = (event.get("source_ip"), project, int(now // self._window))
        window = self._open.get(key)
        if window is None:
            first = {**event, "project_id": project, "instance_id": None, "node_id": None}
            window = self._open[key] = _Window(first | {"action": ACTION})
            window.actions[event["action"]] += 1
            window.codes[str(event.get("error_code"))] += 1
            window.first["requested"] = window.breakdown()
            try:
                window.event_id = await self._store.insert(window.first)
            except Exception:
                # The caller is refused either way; the next refusal tries to open the record again.
                del self._open[key]
                log.exception("could not write an aggregated refusal record")
            return
        window.count += 1
        window.last_at = datetime.fromtimestamp(now, UTC)
        window.actions[event["action"]] += 1
        window.codes[str(event.get("error_code"))] += 1

    async def flush(self) -> None:
        """Write the counts that grew since the last flush; forget windows that have closed."""
        current = int(self._clock() // self._window)
        for key, window in list(self._open.items()):
            if window.event_id is not None and window.count > window.written:
                written = window.count
                try:
                    await self._store.count_refusals(
                        window.event_id, written, window.last_at, window.breakdown()
                    )
                except Exception:
                    log.exception("could not update an aggregated refusal record")
                    continue
                window.written = written
            if key[2] < current and window.count == window.written:
                del self._open[key]
