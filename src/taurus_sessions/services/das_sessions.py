"""DAS's sessions (ListProcesses, DeleteProcess), acting as a registered database account.

ListProcesses shows what the node's processlist shows to that account — every session with
PROCESS, only its own without — minus the service's own connection; internal threads (contract
Part D) are listed as the node shows them, as DAS's own example lists event_scheduler, but never
killed. DeleteProcess kills, as that account, the sessions that match every criterion given
(process_ids AND user AND database), through the same write-ahead audited kill as every other kill;
the node then decides, by the account's privileges, which KILLs it accepts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from taurus_sessions.auth import policy
from taurus_sessions.auth.caller import Caller
from taurus_sessions.das_domain import DasProcessPage, DasProcessQuery
from taurus_sessions.domain import KillMode
from taurus_sessions.nodes import das_reads
from taurus_sessions.services.audit_trail import AuditTrail, KillCall
from taurus_sessions.services.das_access import DasAccess
from taurus_sessions.services.kill_decision import Verdict, kill_threads


@dataclass(frozen=True, slots=True)
class DasKill:
    """What DeleteProcess names: every criterion given must hold (at least one is)."""

    db_user_id: str
    process_ids: Sequence[int] = ()
    user: str | None = None
    database: str | None = None


class DasSessionService:
    def __init__(self, access: DasAccess, audit: AuditTrail, max_victims: int) -> None:
        self._access = access
        self._audit = audit
        self._max_victims = max_victims

    async def list_processes(
        self,
        caller: Caller,
        ref: tuple[str, str],
        db_user_id: str,
        node_id: str | None,
        query: DasProcessQuery,
    ) -> DasProcessPage:
        acting = await self._access.acting_as(caller, ref, db_user_id, node_id, policy.DAS_LIST_PROCESSES)
        async with self._access.session(acting, "reading the processlist") as session:
            return await das_reads.processes(session, query)

    async def delete_process(
        self, caller: Caller, ref: tuple[str, str], kill: DasKill, record: KillCall
    ) -> list[Verdict]:
        """KILL CONNECTION for each matching user session; ids that match nothing, internal
        threads and KILLs the node refuses are recorded, not answered (DAS answers nothing)."""
        record.mode = KillMode.CONNECTION.value
        record.requested = {
            "db_user_id": kill.db_user_id,
            "process_ids": list(kill.process_ids),
            "user": kill.user,
            "database": kill.database,
        }
        acting = await self._access.acting_as(caller, ref, kill.db_user_id, None, policy.DAS_KILL_PROCESSES)
        # The audit names the account the KILLs were sent as, beside the caller who asked.
        record.requested["db_user"] = acting.db_user.username
        record.node_id = acting.target.node_id
        async with self._access.session(acting, "reading the processlist") as session:
            threads = await das_reads.victims(
                session, kill.process_ids, kill.user, kill.database, self._max_victims
            )
            named = list(kill.process_ids) if kill.process_ids else list(threads)
            return await kill_threads(session, self._audit, record, named, KillMode.CONNECTION, known=threads)
