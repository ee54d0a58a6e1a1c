"""The load: a few closed-loop asyncio workers, each on its own connection to the service, each
waiting a little between calls (a steady mix, not a flood).

- ``storm``: opens 20 sessions on a node and deletes them by id (the faithful DELETE);
- ``sweeper``: opens sessions of its own account and kills them by filter;
- ``feeder``: keeps opening sessions of the account the kill task hunts;
- ``lister``: lists with filters (user, command, min_time, info, stats, sorting, paging);
- ``console``: what the console does while open: the session list every second, and now and then
  the permissions, a page of the audit trail, the kill task and the task list;
- ``reaper``: looks on the nodes (directly, as root) for what became of every open session.

After each kill call the worker asks the node itself which of its sessions are gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from bench.soak.client import Api, Call, CallLog
from bench.soak.ledger import Ledger, Session, now
from bench.soak.nodes import NodeDown, SoakNode
from bench.soak.rig import STORM, SWEEP, TASKED, Rig
from bench.soak.schedule import FaultLog

STORM_SIZE = 20  # the faithful DELETE takes at most 20 ids
SWEEP_SIZE = 30
FEED_SIZE = 3
TASK_INTERVAL = 2
STALE_STORM_SECONDS = 30.0  # a storm session still alive this long after its DELETE failed is closed
SLEEPER_SECONDS = 3 * 3600

LIST_QUERIES: tuple[dict[str, Any], ...] = (
    {"user": STORM},
    {"user": "soak_*", "command": "Sleep", "stats": "true"},
    {"command": "Query", "info": "*SLEEP*"},
    {"min_time": 2, "sort": "time", "order": "desc"},
    {"stats": "true", "limit": 10},
    {"user": TASKED, "min_time": 1},
    {"offset": 5, "limit": 20, "sort": "user"},
)


@dataclass
class Soak:
    """The state every part of a run shares."""

    rig: Rig
    ledger: Ledger
    calls: CallLog
    faults: FaultLog
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task_id: str | None = None
    notes: Counter[str] = field(default_factory=Counter)  # what the soak itself ran into

    def api(self) -> Api:
        return Api("127.0.0.1", self.rig.service.port, self.rig.token, self.calls)

    def path(self, node: SoakNode, suffix: str = "") -> str:
        return self.rig.target.node_path(node.node_id) + suffix

    @property
    def project_path(self) -> str:
        return f"/v3/{self.rig.target.project_id}"

    async def pause(self, seconds: float) -> None:
        """Sleep, or return early once the run is stopping."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.stop.wait()

    async def observe(self, node: SoakNode, sessions: list[Session]) -> None:
        try:
            await node.observe(self.ledger, sessions)
        except NodeDown:
            self.notes["probe failed (node down)"] += 1


async def open_bystanders(soak: Soak, node: SoakNode) -> None:
    """Sessions nobody may kill: idle application sessions and one running a long statement
    (which the ``info`` filter of the lister finds)."""
    login = node.login(soak.rig.sandbox.app.user, soak.rig.app_password, soak.rig.app_database)
    await node.open(soak.ledger, login, "bystander", 3)
    for sleeper in await node.open(soak.ledger, login, "bystander", 1):
        if sleeper.sock is not None:
            query = f"SELECT SLEEP({SLEEPER_SECONDS})".encode()
            payload = b"\x03" + query  # COM_QUERY; the answer is never read
            sleeper.sock.send(len(payload).to_bytes(3, "little") + b"\x00" + payload)


async def storm(soak: Soak) -> None:
    api = soak.api()
    login = {n.name: n.login(STORM, soak.rig.passwords[STORM]) for n in soak.rig.nodes}
    try:
        for node in itertools.cycle(soak.rig.nodes):
            if soak.stop.is_set():
                return
            if not node.up.is_set():
                await soak.pause(0.2)
                continue
            sessions = await node.open(soak.ledger, login[node.name], "storm", STORM_SIZE)
            if not sessions:
                await soak.pause(0.5)
                continue
            call = await api.call(
                "delete",
                "DELETE",
                soak.path(node, "/processes"),
                body={"processes": [s.thread_id for s in sessions]},
                node=node.name,
            )
            await soak.observe(node, sessions)
            await soak.pause(0.1 if call.status == 200 else 0.5)
    finally:
        await api.aclose()


async def sweeper(soak: Soak) -> None:
    api = soak.api()
    login = {n.name: n.login(SWEEP, soak.rig.passwords[SWEEP]) for n in soak.rig.nodes}
    filters = ({"user": SWEEP}, {"user": "soak_swe*", "command": "Sleep"})
    try:
        for turn, node in enumerate(itertools.cycle(soak.rig.nodes)):
            if soak.stop.is_set():
                return
            if not node.up.is_set():
                await soak.pause(0.2)
                continue
            await node.open(soak.ledger, login[node.name], "sweep", SWEEP_SIZE)
            await api.call(
                "kill_by_filter",
                "POST",
                soak.path(node, "/processes/kill-by-filter"),
                body={"filter": filters[(turn // 2) % 2], "victims": "all"},
                node=node.name,
            )
            await soak.observe(node, soak.ledger.open_on(node.node_id, "sweep"))
            await soak.pause(0.5)
    finally:
        await api.aclose()


async def feeder(soak: Soak) -> None:
    """Sessions for the kill task to find (on the primary, where the task runs)."""
    node = soak.rig.nodes[0]
    login = node.login(TASKED, soak.rig.passwords[TASKED])
    while not soak.stop.is_set():
        if node.up.is_set():
            await node.open(soak.ledger, login, "task", FEED_SIZE)
        await soak.pause(1.0)


def _list_ok(call: Call) -> bool:
    body = call.body
    return (
        call.status == 200
        and isinstance(body, dict)
        and isinstance(body.get("processes"), list)
        and isinstance(body.get("total_count"), int)
    )


async def lister(soak: Soak) -> None:
    api = soak.api()
    try:
        for turn in itertools.count():
            if soak.stop.is_set():
                return
            node = soak.rig.nodes[turn % len(soak.rig.nodes)]
            query = LIST_QUERIES[(turn // len(soak.rig.nodes)) % len(LIST_QUERIES)]
            call = await api.call(
                "list_filtered", "GET", soak.path(node, "/processes"), query=query, node=node.name
            )
            if call.status == 200 and not _list_ok(call):
                soak.notes["list answer without processes/total_count"] += 1
            if _list_ok(call) and query.get("info") and call.body["total_count"] > 0:
                soak.notes["info filter found the long statement"] += 1
            call.body = None
            await soak.pause(0.05)
    finally:
        await api.aclose()


async def console(soak: Soak) -> None:
    api = soak.api()
    project = soak.project_path

    async def get(op: str, path: str, query: dict[str, Any] | None = None, node: str | None = None) -> None:
        call = await api.call(op, "GET", path, query=query, node=node)
        call.body = None

    try:
        for tick in itertools.count():
            if soak.stop.is_set():
                return
            node = soak.rig.nodes[(tick // 10) % len(soak.rig.nodes)]
            await get("console_list", soak.path(node, "/processes"), {"limit": 100, "sort": "id"}, node.name)
            if tick % 5 == 0:
                await get("permissions", f"{project}/permissions")
                await get("audit_page", f"{project}/audit-events", {"limit": 50})
                if soak.task_id:
                    await get("task_show", f"{project}/kill-tasks/{soak.task_id}")
            if tick % 10 == 0:
                await get("task_list", f"{project}/kill-tasks", {"state": "running"})
            await soak.pause(1.0)
    finally:
        await api.aclose()


async def reaper(soak: Soak) -> None:
    """Every few seconds, on each node, which open sessions are gone; storm sessions that a failed
    DELETE left alive are closed once they have had time to be killed late (a KILL held by a
    blackhole reaches the node when it heals)."""
    while not soak.stop.is_set():
        await soak.pause(3.0)
        for node in soak.rig.nodes:
            if not node.up.is_set():
                continue
            await soak.observe(node, soak.ledger.open_on(node.node_id))
            at = now()
            if soak.faults.active(node.name, at):
                continue
            for session in soak.ledger.open_on(node.node_id, "storm"):
                if at - session.opened_at > STALE_STORM_SECONDS and session.alive_seen_at > at - 5:
                    soak.ledger.self_close(session)


WORKERS: dict[str, Callable[[Soak], Coroutine[Any, Any, None]]] = {
    "storm": storm,
    "sweeper": sweeper,
    "feeder": feeder,
    "lister": lister,
    "console": console,
    "reaper": reaper,
}
