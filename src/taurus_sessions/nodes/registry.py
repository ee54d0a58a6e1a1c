"""All node clients of one process: a pool per node and account, idle pools closed, a cap on open
pools, one process-wide cap on idle connections.

Most calls reach a node as the service's own account (the node's admin account). DAS's operations
act as an account the caller registered (contract Part G): each such account gets a pool of its
own on that node, bounded and timed like the others, so that the node's privileges for that account
decide what a call sees and may kill. Every pool, whoever it logs in as, counts against the same
caps and is swept the same way.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pydantic import SecretStr

from taurus_sessions.inventory.instances import NodeTarget
from taurus_sessions.nodes.driver import NodeClient
from taurus_sessions.nodes.pool import ConnectionSpec, IdleLedger, NodePool, PoolLimits


@dataclass(frozen=True, slots=True)
class Account:
    """A registered database account to connect as; ``key`` names its registration (the pools of
    one registration are closed together when it changes)."""

    key: str
    user: str
    password: SecretStr


PoolKey = tuple[str, str | None]


class NodeRegistry:
    def __init__(
        self,
        limits: PoolLimits,
        max_pools: int,
        system_accounts: Iterable[str],
        clock: Callable[[], float],
        max_idle_connections: int = 64,
    ) -> None:
        self._limits = limits
        self._ledger = IdleLedger(max_idle_connections)
        self._max_pools = max_pools
        self._system_accounts = tuple(system_accounts)
        self._clock = clock
        # Keyed by (node id, account): None is the node's admin account, else a registered one.
        self._clients: OrderedDict[PoolKey, NodeClient] = OrderedDict()

    def client(self, target: NodeTarget, account: Account | None = None) -> NodeClient:
        """The node's client as its admin account, or as ``account`` (a registered DB user)."""
        if account is None:
            key: PoolKey = (target.node_id, None)
            spec = ConnectionSpec(target.host, target.port, target.admin_user, target.admin_password)
        else:
            key = (target.node_id, account.key)
            spec = ConnectionSpec(target.host, target.port, account.user, account.password)
        client = self._clients.get(key)
        if client is None or client.pool.spec != spec:  # re-registered with other credentials
            if client is not None:
                client.pool.retire()
            # The internal-thread rule is the node's whoever connects: the admin account's sessions
            # stay internal for a registered account too, and a registered account's own sessions
            # are never internal merely because it is the one connected.
            accounts = (*self._system_accounts, *target.extra_system_accounts, target.admin_user)
            client = NodeClient(NodePool(spec, self._limits, self._clock, self._ledger), accounts)
            self._clients[key] = client
            self._evict()
        self._clients.move_to_end(key)
        return client

    def forget_account(self, account_key: str) -> None:
        """Close the pools of a registered account (its registration was changed or removed)."""
        for key in [key for key in self._clients if key[1] == account_key]:
            client = self._clients.pop(key)
            client.pool.retire()

    def _evict(self) -> None:
        # Least recently used first; a pool with work in flight is never dropped mid-request.
        for key in list(self._clients):
            if len(self._clients) <= self._max_pools:
                break
            client = self._clients[key]
            if not client.pool.busy:
                client.pool.retire()
                del self._clients[key]

    def sweep(self) -> None:
        """Close connections idle past the limit; forget pools with nothing open and idle."""
        cutoff = self._clock() - self._limits.idle_seconds
        for key in list(self._clients):
            pool = self._clients[key].pool
            pool.close_idle(older_than=cutoff)
            if pool.idle_count == 0 and not pool.busy and pool.last_used < cutoff:
                pool.retire()
                del self._clients[key]

    def connection_counts(self) -> dict[str, tuple[int, int]]:
        """Per node with a pool: (idle, in use) connections of this process, every account's."""
        counts: dict[str, tuple[int, int]] = {}
        for (node_id, _account), client in self._clients.items():
            idle, in_use = client.pool.connection_counts
            before = counts.get(node_id, (0, 0))
            counts[node_id] = (before[0] + idle, before[1] + in_use)
        return counts

    def close_all(self) -> None:
        for client in self._clients.values():
            client.pool.retire()
        self._clients.clear()

    @property
    def open_pools(self) -> int:
        return len(self._clients)

    @property
    def idle_connections(self) -> int:
        return len(self._ledger)

    @property
    def limits(self) -> PoolLimits:
        return self._limits
