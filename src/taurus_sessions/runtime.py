"""Builds the object graph of a running service from settings and an inventory.

The app factory receives a ``Runtime``; tests and the demo build one the same way, so nothing is
reached through globals.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from taurus_sessions.auth.access import AccessControl
from taurus_sessions.auth.aksk import AkSkVerifier
from taurus_sessions.auth.authenticator import Authenticator
from taurus_sessions.auth.keyring import TokenKeyring
from taurus_sessions.auth.revocations import TokenRevocations
from taurus_sessions.auth.throttles import Buckets, CallerThrottle, FailureThrottle, LoginThrottle
from taurus_sessions.cache import CacheRefresher, TtlCache
from taurus_sessions.inventory.database import Inventory
from taurus_sessions.nodes.pool import PoolLimits
from taurus_sessions.nodes.registry import NodeRegistry
from taurus_sessions.services.anonymous_refusals import AnonymousRefusals
from taurus_sessions.services.audit_reader import AuditReader
from taurus_sessions.services.audit_recovery import AuditRecovery
from taurus_sessions.services.audit_trail import AuditTrail
from taurus_sessions.services.auto_kill import AutoKillService
from taurus_sessions.services.cpu_sources import CpuMeter
from taurus_sessions.services.das_access import DasAccess
from taurus_sessions.services.das_db_users import DbUserService
from taurus_sessions.services.das_locks import DasLockService
from taurus_sessions.services.das_sessions import DasSessionService
from taurus_sessions.services.extended_kills import KillService
from taurus_sessions.services.iam import IamService
from taurus_sessions.services.instances import InstanceService
from taurus_sessions.services.intelligent_kill import IntelligentKillService
from taurus_sessions.services.kill_task_runner import TaskRunner
from taurus_sessions.services.kill_tasks import KillTaskService
from taurus_sessions.services.lock_waits import LockWaitService
from taurus_sessions.services.node_access import NodeAccess, Targets, node_deadline
from taurus_sessions.services.processes import ProcessService
from taurus_sessions.services.realtime_sessions import RealtimeLimits, RealtimeSessionService
from taurus_sessions.services.sql_limiter import SqlLimiter, Timing
from taurus_sessions.services.sql_limiting import SqlLimitingService
from taurus_sessions.settings import DEFAULT_SYSTEM_ACCOUNTS, Settings


@dataclass
class Runtime:
    settings: Settings
    inventory: Inventory
    clock: Callable[[], float]
    access: AccessControl
    keyring: TokenKeyring
    authenticator: Authenticator
    throttle: CallerThrottle
    auth_failures: FailureThrottle
    source_limit: Buckets
    nodes: NodeRegistry
    node_access: NodeAccess
    audit: AuditTrail
    audit_reader: AuditReader
    processes: ProcessService
    kills: KillService
    instances: InstanceService
    lock_waits: LockWaitService
    tasks: KillTaskService
    task_runner: TaskRunner
    iam: IamService
    revocations: TokenRevocations
    recovery: AuditRecovery
    auto_kill: AutoKillService
    intelligent_kill: IntelligentKillService
    sql_limiting: SqlLimitingService
    sql_limiter: SqlLimiter
    db_users: DbUserService
    das_sessions: DasSessionService
    das_locks: DasLockService
    caches: CacheRefresher
    realtime_sessions: RealtimeSessionService

    async def close(self) -> None:
        await self.realtime_sessions.close()  # first: its jobs settle in the inventory
        self.nodes.close_all()
        await self.inventory.close()


async def build_runtime(
    settings: Settings,
    inventory: Inventory,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> Runtime:
    """``clock`` (seconds since the epoch) and ``monotonic`` time what the service times: token expiry
    and key refresh, signature dates, caches, throttling, node cool-downs and idle pools, the kill
    task schedule and auto SQL limiting."""

    def now() -> datetime:
        return datetime.fromtimestamp(clock(), UTC)

    workers = settings.workers  # the throttles' budgets are shared out between them

    access = AccessControl(inventory.users, settings.inventory_cache_seconds, monotonic)
    keyring = await TokenKeyring.load(
        inventory.users, settings.token_ttl_seconds, settings.token_key_refresh_seconds, clock
    )
    signatures = AkSkVerifier(
        inventory.access_keys,
        access,
        clock_skew=timedelta(seconds=settings.signature_clock_skew_seconds),
        failure_limit=settings.ak_failure_limit,
        lock_for=timedelta(seconds=settings.ak_lock_seconds),
        cache_seconds=settings.inventory_cache_seconds,
        clock=clock,
        monotonic=monotonic,
    )
    revocations = TokenRevocations(inventory.revoked_tokens, clock)
    await revocations.refresh()
    authenticator = Authenticator(keyring, access, revocations, signatures)
    limits = PoolLimits(
        size=settings.node_pool_size,
        connect_timeout=settings.node_connect_timeout,
        read_timeout=settings.node_read_timeout,
        idle_seconds=settings.node_pool_idle_seconds,
        cooldown_seconds=settings.node_failure_cooldown_seconds,
    )
    nodes = NodeRegistry(
        limits,
        settings.node_max_open_pools,
        DEFAULT_SYSTEM_ACCOUNTS,
        monotonic,
        max_idle_connections=settings.node_max_idle_connections,
    )
    targets = Targets(inventory.instances, settings.inventory_cache_seconds, monotonic)
    projects: TtlCache[str, bool] = TtlCache(settings.inventory_cache_seconds, monotonic)
    deadline = node_deadline(
        settings.node_connect_timeout, settings.node_read_timeout, settings.kill_max_victims
    )
    node_access = NodeAccess(access, targets, nodes, deadline)
    audit = AuditTrail(
        inventory.audit,
        AnonymousRefusals(inventory.audit, project_lookup(inventory, projects), clock),
    )
    kills = KillService(node_access, audit)

    das = DasAccess(
        access,
        inventory.instances,
        inventory.db_users,
        node_access,
        settings.inventory_cache_seconds,
        monotonic,
    )
    caches = CacheRefresher(
        [*access.caches, *targets.caches, *signatures.caches, projects, *das.caches],
        also=[keyring.refresh_ahead],
    )
    runner = TaskRunner(
        inventory.kill_tasks,
        kills,
        targets,
        access,
        audit,
        poll_seconds=settings.task_poll_seconds,
        lease_seconds=settings.task_lease_seconds,
        now=now,
    )
    return Runtime(
        settings=settings,
        inventory=inventory,
        clock=clock,
        access=access,
        keyring=keyring,
        authenticator=authenticator,
        throttle=CallerThrottle(
            Buckets.shared(settings.rate_limit_per_second, settings.rate_limit_burst, monotonic, workers)
        ),
        auth_failures=FailureThrottle(
            Buckets.shared(settings.auth_failures_per_second, settings.auth_failure_burst, monotonic, workers)
        ),
        source_limit=Buckets.shared(
            settings.source_rate_limit_per_second, settings.source_rate_limit_burst, monotonic, workers
        ),
        nodes=nodes,
        node_access=node_access,
        audit=audit,
        audit_reader=AuditReader(access, inventory.audit),
        processes=ProcessService(node_access, audit),
        kills=kills,
        instances=InstanceService(access, inventory.instances),
        lock_waits=LockWaitService(node_access),
        tasks=KillTaskService(
            node_access, access, inventory.kill_tasks, inventory.audit, runner.wake, now=now
        ),
        task_runner=runner,
        iam=IamService(
            inventory.users,
            inventory.instances,
            keyring,
            access,
            login_throttle(settings, monotonic),
            settings.password_queue_limit,
            revocations,
        ),
        revocations=revocations,
        auto_kill=AutoKillService(
            node_access,
            access,
            inventory.instances,
            inventory.kill_tasks,
            kills,
            audit,
            inventory.audit,
            runner.wake,
            settings.kill_max_victims,
        ),
        intelligent_kill=IntelligentKillService(
            node_access, audit, inventory.audit, inventory.intelligent_kills
        ),
        sql_limiting=SqlLimitingService(node_access, inventory.sql_limiting, inventory.jobs, now),
        sql_limiter=SqlLimiter(
            inventory.sql_limiting,
            node_access,
            access,
            audit,
            CpuMeter(monotonic),
            limiting_timing(settings),
            now,
        ),
        realtime_sessions=RealtimeSessionService(
            node_access, inventory.realtime_sessions, realtime_limits(settings)
        ),
        recovery=AuditRecovery(
            inventory.audit,
            node_access,
            # a call's record is written, then its node work, then its outcome: each bounded
            longest_call=deadline + 2 * settings.inventory_timeout,
            owner=runner.owner,
            clock=clock,
        ),
        db_users=DbUserService(das, inventory.db_users, nodes),
        das_sessions=DasSessionService(das, audit, settings.kill_max_victims),
        das_locks=DasLockService(das),
        caches=caches,
    )


def limiting_timing(settings: Settings) -> Timing:
    zone = settings.limiting_time_zone
    return Timing(
        minute=timedelta(seconds=settings.limiting_minute_seconds),
        check_seconds=settings.limiting_check_seconds,
        lease=timedelta(seconds=settings.task_lease_seconds),
        zone=ZoneInfo(zone) if zone else None,
    )


def realtime_limits(settings: Settings) -> RealtimeLimits:
    return RealtimeLimits.derive(
        # a collection's node work: a connection, then a ping, the dialect probe and its one read
        node_seconds=node_deadline(settings.node_connect_timeout, settings.node_read_timeout, 0),
        inventory_timeout=settings.inventory_timeout,
        result_seconds=settings.realtime_session_result_seconds,
        max_running=settings.realtime_session_max_running,
        max_results=settings.realtime_session_max_results,
        max_rows=settings.realtime_session_max_rows,
    )


def login_throttle(settings: Settings, monotonic: Callable[[], float]) -> LoginThrottle:
    return LoginThrottle(
        Buckets.shared(settings.login_per_second, settings.login_burst, monotonic, settings.workers),
        Buckets.shared(
            settings.login_account_failures_per_second,
            settings.login_account_failure_burst,
            monotonic,
            settings.workers,
        ),
        monotonic,
    )


def project_lookup(inventory: Inventory, cache: TtlCache[str, bool]) -> Callable[[str], Awaitable[bool]]:
    """Whether a project exists, cached like the other hot inventory lookups."""

    async def exists(project_id: str) -> bool:
        async def load() -> bool:
            return await inventory.instances.get_project(project_id) is not None

        return await cache.get(project_id, load, "project")

    return exists
