"""ShowLockWaitSession: what a waiting session is blocked by, down to the root of the chain."""

from __future__ import annotations

from dataclasses import dataclass

from taurus_sessions.auth import policy
from taurus_sessions.auth.caller import Caller
from taurus_sessions.domain import LockWaitEdge, Process
from taurus_sessions.errors import SessionNotFound
from taurus_sessions.services.node_access import NodeAccess, NodeRef

MAX_CHAIN = 16  # InnoDB breaks real cycles itself (deadlock detection); this only bounds the walk


@dataclass(frozen=True, slots=True)
class LockWaitReport:
    waiter: Process
    edge: LockWaitEdge | None  # None: the session waits for no row lock
    blocker: Process | None  # the blocking session as the processlist shows it (None if internal)
    # waiter, its blocker, that one's blocker, … (the last is the root cause); None for an
    # internal thread, which this API never names (contract Part D)
    chain: list[int | None]
    blocker_internal: bool = False


class LockWaitService:
    def __init__(self, nodes: NodeAccess) -> None:
        self._nodes = nodes

    async def show_lock_wait_session(self, caller: Caller, ref: NodeRef, pid: int) -> LockWaitReport:
        target = await self._nodes.target(caller, ref, policy.LIST_PROCESSES)
        async with self._nodes.session(target) as session:
            waiter = (await session.threads([pid])).get(pid)
            if waiter is None or waiter.internal:  # internal threads do not exist for this API
                raise SessionNotFound()
            edges = await session.lock_waits(pid)
            if not edges:
                return LockWaitReport(waiter.process, None, None, [pid])
            edge = edges[0]
            chain = [pid, edge.blocker]
            while len(chain) < MAX_CHAIN:
                further = await session.lock_waits(chain[-1])
                if not further or further[0].blocker in chain:
                    break
                chain.append(further[0].blocker)
            threads = await session.threads(chain)
        internal = {thread_id for thread_id, thread in threads.items() if thread.internal}
        blocker = threads.get(edge.blocker)
        if edge.blocker in internal:
            # An internal thread holds the lock: say so, but not who it is or what it runs.
            return LockWaitReport(waiter.process, edge, None, _named(chain, internal), blocker_internal=True)
        return LockWaitReport(
            waiter.process, edge, blocker.process if blocker else None, _named(chain, internal)
        )


def _named(chain: list[int], internal: set[int]) -> list[int | None]:
    return [None if thread_id in internal else thread_id for thread_id in chain]
