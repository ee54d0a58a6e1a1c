"""Storage of autonomous SQL limiting: the rule of each primary node (with the lease that makes one
service process its evaluator, and what that process last saw) and the limits rules create."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from taurus_sessions.inventory.models import AutoSqlLimit, AutoSqlLimitingRule

RULE_CHANGED = "the rule was changed"
SWITCHED_OFF = "auto SQL limiting was switched off"


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What the evaluator saw on a node at one check."""

    at: datetime
    conditions_since: datetime | None
    active_sessions: int | None
    cpu_usage: float | None
    note: str | None


class SqlLimitingStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    # -- rules ------------------------------------------------------------------------------
    async def put_rules(self, rules: Sequence[AutoSqlLimitingRule], now: datetime) -> None:
        """Create or replace the rules of their nodes, in one transaction. A changed rule starts
        over: its evaluation is forgotten and the limits its predecessor created end now."""
        async with self._sessions.begin() as session:
            for rule in rules:
                old = await session.get(AutoSqlLimitingRule, rule.node_id)
                if old is not None:
                    rule.lease_owner, rule.lease_until = old.lease_owner, old.lease_until
                    await session.delete(old)
                    await session.flush()
                session.add(rule)
            await _end_limits(session, [rule.node_id for rule in rules], now, RULE_CHANGED)

    async def rules(self, instance_id: str, node_ids: Iterable[str]) -> Sequence[AutoSqlLimitingRule]:
        query = select(AutoSqlLimitingRule).where(
            AutoSqlLimitingRule.instance_id == instance_id, AutoSqlLimitingRule.node_id.in_(list(node_ids))
        )
        async with self._sessions() as session:
            return (await session.scalars(query.order_by(AutoSqlLimitingRule.node_id))).all()

    async def instance_rules(self, project_id: str, instance_id: str) -> Sequence[AutoSqlLimitingRule]:
        query = select(AutoSqlLimitingRule).where(
            AutoSqlLimitingRule.project_id == project_id, AutoSqlLimitingRule.instance_id == instance_id
        )
        async with self._sessions() as session:
            return (await session.scalars(query.order_by(AutoSqlLimitingRule.node_id))).all()

    async def delete_rule(self, instance_id: str, node_id: str, now: datetime) -> bool:
        """Switch limiting off on a node: its rule goes and its limits end now."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(AutoSqlLimitingRule).where(
                    AutoSqlLimitingRule.node_id == node_id, AutoSqlLimitingRule.instance_id == instance_id
                )
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return False
            await _end_limits(session, [node_id], now, SWITCHED_OFF)
            return True

    # -- the evaluator's lease ----------------------------------------------------------------
    async def claim(self, owner: str, now: datetime, lease: timedelta) -> Sequence[AutoSqlLimitingRule]:
        """The rules this process evaluates: free ones (never held, or whose holder stopped
        renewing) are taken, its own renewed once half their lease is gone. One guarded UPDATE:
        a row another process took meanwhile no longer matches, so two never hold one rule."""
        rule = AutoSqlLimitingRule
        takeable = or_(
            rule.lease_owner.is_(None),
            rule.lease_until < now,
            and_(rule.lease_owner == owner, rule.lease_until < now + lease / 2),
        )
        async with self._sessions.begin() as session:
            await session.execute(
                update(rule).where(takeable).values(lease_owner=owner, lease_until=now + lease)
            )
            held = select(rule).where(rule.lease_owner == owner, rule.lease_until > now)
            return (await session.scalars(held.execution_options(populate_existing=True))).all()

    async def save_evaluation(self, node_id: str, owner: str, evaluation: Evaluation) -> bool:
        """Keep what the holder saw (False: the rule is gone or another process holds it now)."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(AutoSqlLimitingRule)
                .where(AutoSqlLimitingRule.node_id == node_id, AutoSqlLimitingRule.lease_owner == owner)
                .values(
                    evaluated_at=evaluation.at,
                    conditions_since=evaluation.conditions_since,
                    last_active_sessions=evaluation.active_sessions,
                    last_cpu_usage=evaluation.cpu_usage,
                    last_note=evaluation.note[:500] if evaluation.note else None,
                )
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def release(self, owner: str) -> None:
        """Give up this process's leases (on shutdown) so another process goes on at once."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(AutoSqlLimitingRule)
                .where(AutoSqlLimitingRule.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    # -- limits -----------------------------------------------------------------------------
    async def add_limit(self, limit: AutoSqlLimit, owner: str, rule_updated_at: datetime) -> bool:
        """Record a limit a rule fired, if that rule is still the one evaluated (not changed or
        switched off since) and this process still holds it."""
        async with self._sessions.begin() as session:
            rule = await session.get(AutoSqlLimitingRule, limit.node_id, with_for_update=True)
            if rule is None or rule.lease_owner != owner or rule.updated_at != rule_updated_at:
                return False
            session.add(limit)
            return True

    async def active_limits(self, node_ids: Iterable[str], now: datetime) -> Sequence[AutoSqlLimit]:
        """Limits in force on these nodes, newest first (the newest matching limit wins)."""
        query = (
            select(AutoSqlLimit)
            .where(
                AutoSqlLimit.node_id.in_(list(node_ids)),
                AutoSqlLimit.ended_at.is_(None),
                AutoSqlLimit.create_at <= now,
                AutoSqlLimit.expire_at > now,
            )
            .order_by(AutoSqlLimit.create_at.desc(), AutoSqlLimit.id)
        )
        async with self._sessions() as session:
            return (await session.scalars(query)).all()

    async def count_stopped(self, limit_id: str, stopped: int) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(AutoSqlLimit)
                .where(AutoSqlLimit.id == limit_id)
                .values(stopped=AutoSqlLimit.stopped + stopped)
            )

    async def log(self, instance_id: str, node_id: str, limit: int) -> Sequence[AutoSqlLimit]:
        """The limits a node's rules created, newest first."""
        query = (
            select(AutoSqlLimit)
            .where(AutoSqlLimit.instance_id == instance_id, AutoSqlLimit.node_id == node_id)
            .order_by(AutoSqlLimit.create_at.desc(), AutoSqlLimit.id)
            .limit(limit)
        )
        async with self._sessions() as session:
            return (await session.scalars(query)).all()


async def _end_limits(session: AsyncSession, node_ids: list[str], now: datetime, reason: str) -> None:
    await session.execute(
        update(AutoSqlLimit)
        .where(
            AutoSqlLimit.node_id.in_(node_ids), AutoSqlLimit.ended_at.is_(None), AutoSqlLimit.expire_at > now
        )
        .values(ended_at=now, end_reason=reason)
    )
