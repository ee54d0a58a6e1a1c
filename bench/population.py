"""The node's population of user sessions: set it up, tear it down, and check it (never timed).

Checks read the processlist as root over the socket, apart from both the service and the raw
references, so neither side can vouch for itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from bench.holder_client import Login
from bench.results import CheckFailed
from bench.rig import SWEEP_USER, Rig


async def present_ids(rig: Rig, users: Iterable[str]) -> set[int]:
    """Ids of live threads of these accounts (a thread being killed no longer counts)."""
    names = ", ".join(f"'{user}'" for user in users)
    rows = await rig.node_sql(
        f"SELECT ID FROM information_schema.PROCESSLIST WHERE USER IN ({names}) AND COMMAND <> 'Killed'"
    )
    return {int(row[0]) for row in rows}


async def all_ids(rig: Rig, users: Iterable[str]) -> set[int]:
    """Ids of threads of these accounts still on the node, dying or not."""
    names = ", ".join(f"'{user}'" for user in users)
    rows = await rig.node_sql(f"SELECT ID FROM information_schema.PROCESSLIST WHERE USER IN ({names})")
    return {int(row[0]) for row in rows}


def _users(rig: Rig) -> tuple[str, str]:
    return (rig.app.user, SWEEP_USER)


async def wait_gone(rig: Rig, ids: Iterable[int], within: float = 60.0) -> None:
    """Until none of these threads is on the node any more (KILL returns before a thread has exited)."""
    left = set(ids)
    deadline = time.monotonic() + within
    while left:
        left &= await all_ids(rig, _users(rig))
        if not left:
            return
        if time.monotonic() > deadline:
            raise CheckFailed(f"{len(left)} killed sessions still on the node after {within:g}s")
        await asyncio.sleep(0.05)


async def open_sessions(rig: Rig, login: Login, count: int) -> list[int]:
    """Open idle sessions and check the node shows every one of them."""
    ids = await rig.holder.open(login, count)
    missing = set(ids) - await present_ids(rig, [login.user])
    if missing:
        raise CheckFailed(f"{len(missing)} of {count} new sessions are not on the node")
    return ids


async def clear(rig: Rig) -> None:
    """Drop every held session and wait until the node has none of the benchmark's accounts left."""
    await rig.holder.close_all()
    deadline = time.monotonic() + 60.0
    while await all_ids(rig, _users(rig)):
        if time.monotonic() > deadline:
            raise CheckFailed("sessions of a previous scenario are still on the node")
        await asyncio.sleep(0.05)


async def expect_exactly(rig: Rig, login: Login, ids: Iterable[int], what: str) -> None:
    expected = set(ids)
    present = await present_ids(rig, [login.user])
    if present != expected:
        raise CheckFailed(
            f"{what}: expected {len(expected)} sessions of {login.user}, found {len(present)} "
            f"({len(expected - present)} missing, {len(present - expected)} unexpected)"
        )
