"""DAS's lock views (ListMetadataLocks, ListInnodbLocks), read as a registered database account.

Both read tables the node guards: metadata locks need performance_schema (on, with the metadata-lock
instrument, and SELECT on it for the account); InnoDB's lock tables need PROCESS. What the account
may not read is answered as such (DAS.290001), never filled in with the service's own account.
Both views read the instance's primary node (DAS's operations take no node for them).
"""

from __future__ import annotations

from dataclasses import dataclass

from taurus_sessions.auth import policy
from taurus_sessions.auth.caller import Caller
from taurus_sessions.das_domain import InnodbLockReport
from taurus_sessions.errors import DasMetadataLocksOff
from taurus_sessions.nodes import das_reads
from taurus_sessions.nodes.das_sql import MDL_INSTRUMENT
from taurus_sessions.services.das_access import DasAccess
from taurus_sessions.services.metadata_lock_graph import LockEdges, edges

ENABLE_MDL = (
    "start the server with performance_schema=ON and "
    f"performance-schema-instrument='{MDL_INSTRUMENT}=ON' "
    f"(or UPDATE performance_schema.setup_instruments SET ENABLED='YES' WHERE NAME='{MDL_INSTRUMENT}')"
)


@dataclass(frozen=True, slots=True)
class MetadataLockFilter:
    thread_id: int | None = None
    database: str | None = None
    table: str | None = None


class DasLockService:
    def __init__(self, access: DasAccess) -> None:
        self._access = access

    async def list_metadata_locks(
        self, caller: Caller, ref: tuple[str, str], db_user_id: str, flt: MetadataLockFilter
    ) -> list[LockEdges]:
        """The locks matching the filter; who blocks whom is worked out over every lock read."""
        acting = await self._access.acting_as(caller, ref, db_user_id, None, policy.DAS_LIST_METADATA_LOCKS)
        async with self._access.session(acting, "reading performance_schema's metadata locks") as session:
            try:
                locks = await das_reads.metadata_locks(session)
            except das_reads.MetadataLocksOff:
                raise DasMetadataLocksOff(ENABLE_MDL) from None
        return [entry for entry in edges(locks) if _matches(entry, flt)]

    async def list_innodb_locks(
        self, caller: Caller, ref: tuple[str, str], db_user_id: str
    ) -> InnodbLockReport:
        acting = await self._access.acting_as(caller, ref, db_user_id, None, policy.DAS_LIST_INNODB_LOCKS)
        async with self._access.session(
            acting, "reading InnoDB's lock tables (PROCESS is needed)"
        ) as session:
            return await das_reads.innodb_locks(session)


def _matches(entry: LockEdges, flt: MetadataLockFilter) -> bool:
    lock = entry.lock
    if flt.thread_id is not None and lock.thread_id != flt.thread_id:
        return False
    if flt.database is not None and lock.schema != flt.database:
        return False
    return flt.table is None or lock.name == flt.table
