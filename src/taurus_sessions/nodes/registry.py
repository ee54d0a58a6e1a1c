"""All node clients of one process: a pool per node, idle pools closed, a cap on open pools."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable

from taurus_sessions.inventory.instances import NodeTarget
from taurus_sessions.nodes.driver import NodeClient
from taurus_sessions.nodes.pool import ConnectionSpec, IdleLedger, NodePool, PoolLimits


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
        self._clients: OrderedDict[str, NodeClient] = OrderedDict()

    def client(self, target: NodeTarget) -> NodeClient:
        spec = ConnectionSpec(target.host, target.port, target.admin_user, target.admin_password)
        client = self._clients.get(target.node_id)
        if client is None or client.pool.spec != spec:  # re-registered with other credentials
            if client is not None:
                client.pool.retire()
            accounts = (*self._system_accounts, *target.extra_system_accounts, target.admin_user)
            client = NodeClient(NodePool(spec, self._limits, self._clock, self._ledger), accounts)
            self._clients[target.node_id] = client
            self._evict()
        self._clients.move_to_end(target.node_id)
        return client

    def _evict(self) -> None:
        # Least recently used first; a pool with work in flight is never dropped mid-request.
        for node_id in list(self._clients):
            if len(self._clients) <= self._max_pools:
                break
            client = self._clients[node_id]
            if not client.pool.busy:
                client.pool.retire()
                del self._clients[node_id]

    def sweep(self) -> None:
        """Close connections idle past the limit; forget pools with nothing open and idle."""
        cutoff = self._clock() - self._limits.idle_seconds
        for node_id in list(self._clients):
            pool = self._clients[node_id].pool
            pool.close_idle(older_than=cutoff)
            if pool.idle_count == 0 and not pool.busy and pool.last_used < cutoff:
                pool.retire()
                del self._clients[node_id]

    def connection_counts(self) -> dict[str, tuple[int, int]]:
        """Per node with a pool: (idle, in use) connections of this process."""
        return {node_id: client.pool.connection_counts for node_id, client in self._clients.items()}

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
