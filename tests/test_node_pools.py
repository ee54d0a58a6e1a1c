"""The node driver's pools against a real node: reuse, the size bound, eviction, idle closing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from pydantic import SecretStr

from conftest import World
from support.inprocess import FakeClock
from support.poll import eventually
from support.sessions import thread_ids
from taurus_sessions.domain import ListQuery
from taurus_sessions.inventory.instances import NodeTarget
from taurus_sessions.nodes.fragments import Fragment
from taurus_sessions.nodes.pool import PoolLimits
from taurus_sessions.nodes.registry import NodeRegistry
from taurus_sessions.settings import DEFAULT_SYSTEM_ACCOUNTS


def target(world: World, node_id: str, password: str | None = None) -> NodeTarget:
    admin = world.sandbox.admin
    return NodeTarget(
        project_id="p",
        instance_id="i",
        node_id=node_id,
        role="master",
        host="127.0.0.1",
        port=world.sandbox.primary.port,
        admin_user=admin.user,
        admin_password=SecretStr(password or admin.password),
        extra_system_accounts=(),
    )


def admin_connections(world: World) -> set[int]:
    return thread_ids(world.sandbox.primary, "USER = 'rdsAdmin'")


def closed_on_the_node(world: World, before: set[int]) -> None:
    """The connections opened since ``before`` are gone from the node (closing one takes a moment there)."""
    eventually(
        lambda: not admin_connections(world) - before, timeout=5, message="the pool's connections to close"
    )


def registry(
    size: int = 2, max_pools: int = 8, idle: float = 60.0, clock: Callable[[], float] = time.monotonic
) -> NodeRegistry:
    limits = PoolLimits(size=size, connect_timeout=2, read_timeout=5, idle_seconds=idle, cooldown_seconds=0)
    return NodeRegistry(limits, max_pools, DEFAULT_SYSTEM_ACCOUNTS, clock)


async def _connection_id(nodes: NodeRegistry, node: NodeTarget) -> int:
    async with nodes.client(node).session() as session:
        rows = await session.fetch(Fragment("SELECT CONNECTION_ID()"))
    return int(rows[0][0])


def test_connections_are_reused_and_bounded(world: World) -> None:
    before = admin_connections(world)

    async def run() -> tuple[int, int, int]:
        nodes = registry(size=2)
        node = target(world, "a" * 32 + "no07")
        first = await _connection_id(nodes, node)
        second = await _connection_id(nodes, node)

        async def list_once() -> None:
            async with nodes.client(node).session() as session:
                await session.list_page(ListQuery(limit=5))
                await asyncio.sleep(0.05)

        await asyncio.gather(*(list_once() for _ in range(12)))
        opened = len(admin_connections(world) - before)
        nodes.close_all()
        return first, second, opened

    first, second, opened = asyncio.run(run())
    assert first == second  # the same pooled connection
    assert opened <= 2  # twelve concurrent calls, never more than the pool size
    closed_on_the_node(world, before)  # close_all closed them on the server too


def test_least_recently_used_pools_are_evicted_and_idle_ones_closed(world: World) -> None:
    before = admin_connections(world)

    clock = FakeClock()

    async def run() -> tuple[int, int]:
        nodes = registry(size=1, max_pools=2, idle=0.3, clock=clock.monotonic)
        for letter in "abc":
            await _connection_id(nodes, target(world, letter * 32 + "no07"))
        pools_after_three = nodes.open_pools
        clock.advance(0.5)
        nodes.sweep()
        return pools_after_three, nodes.open_pools

    pools_after_three, pools_after_sweep = asyncio.run(run())
    assert pools_after_three == 2  # the cap: the oldest pool went
    assert pools_after_sweep == 0  # idle past the limit: closed and forgotten
    closed_on_the_node(world, before)


def test_a_reregistered_node_gets_a_fresh_pool(world: World) -> None:
    async def run() -> tuple[int, int]:
        nodes = registry()
        node_id = "d" * 32 + "no07"
        first = await _connection_id(nodes, target(world, node_id))
        world.sandbox.primary.sql(
            f"SET PASSWORD FOR 'rdsAdmin'@'%' = PASSWORD('{world.sandbox.admin.password}')"
        )
        # same credentials again: the pool (and its connection) is kept
        again = await _connection_id(nodes, target(world, node_id))
        nodes.close_all()
        return first, again

    first, again = asyncio.run(run())
    assert first == again

    async def changed() -> bool:
        nodes = registry()
        node_id = "e" * 32 + "no07"
        old_client = nodes.client(target(world, node_id))
        await _connection_id(nodes, target(world, node_id))
        new_client = nodes.client(target(world, node_id, password="another-password"))
        replaced = new_client is not old_client and old_client.pool.idle_count == 0
        nodes.close_all()
        return replaced

    assert asyncio.run(changed())


def test_idle_connections_are_capped_process_wide(world: World) -> None:
    before = admin_connections(world)

    async def run() -> tuple[int, list[int], int]:
        nodes = NodeRegistry(
            PoolLimits(size=2, connect_timeout=2, read_timeout=5, idle_seconds=60, cooldown_seconds=0),
            16,
            DEFAULT_SYSTEM_ACCOUNTS,
            time.monotonic,
            max_idle_connections=2,
        )
        ids = [await _connection_id(nodes, target(world, letter * 32 + "no07")) for letter in "abcd"]
        idle = nodes.idle_connections
        again = [await _connection_id(nodes, target(world, letter * 32 + "no07")) for letter in "dc"]
        nodes.close_all()
        return idle, [*ids, *again], nodes.idle_connections

    idle, ids, after = asyncio.run(run())
    assert idle == 2
    assert ids[4:] == [ids[3], ids[2]]  # the two most recent nodes kept their connections
    assert after == 0
    closed_on_the_node(world, before)
