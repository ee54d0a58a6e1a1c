"""The inventory schema: projects, instances, nodes, users, roles, keys, audit, kill tasks.

Every change to these tables comes with an Alembic migration in ``migrations/versions``; the
service and the CLI migrate the database to head before using it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: the same on SQLite (no time zones) and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the inventory; use aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Project(Base):
    __tablename__ = "projects"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    domain_name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Instance(Base):
    __tablename__ = "instances"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    # Accounts added to the default system accounts (contract Part D, rule 1).
    extra_system_accounts: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # TaurusDB's automatic-kill switch (UpdateAutoKillProcessStatus): its tasks and kill-all run
    # only while it is on.
    auto_kill_enabled: Mapped[bool] = mapped_column(Boolean, default=False)


class Node(Base):
    __tablename__ = "nodes"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))  # master | readreplica
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    admin_user: Mapped[str] = mapped_column(String(80))
    admin_password_enc: Mapped[str] = mapped_column(Text)  # Fernet under the master key
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Where the node's CPU usage can be read (SQL cannot see it): "pidfile:<path>" (the server runs
    # on this host) or a Prometheus node-exporter URL; none: the CPU is unknown (auto SQL limiting).
    cpu_source: Mapped[str | None] = mapped_column(String(512), default=None)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("domain_name", "name"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    domain_name: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(Text)  # argon2id
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Tokens issued before this time are refused (set when the password changes or the user is
    # disabled): signing out everywhere without keeping a list of every token.
    tokens_valid_after: Mapped[datetime | None] = mapped_column(default=None)


class Role(Base):
    __tablename__ = "roles"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    actions: Mapped[list[Any]] = mapped_column()


class RoleBinding(Base):
    __tablename__ = "role_bindings"
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    role_name: Mapped[str] = mapped_column(ForeignKey("roles.name", ondelete="CASCADE"), primary_key=True)


class TokenKey(Base):
    """Fernet keys that sign tokens; the newest signs, all valid ones verify (rotation)."""

    __tablename__ = "token_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """One kill call (or refused kill call): initiator, action, target, outcome."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_project_at", "project_id", "at"),
        Index("ix_audit_node_at", "node_id", "at"),
        Index("ix_audit_outcome_at", "outcome", "at"),  # recovery looks for old pending records
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    request_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    # Only ids that passed validation are stored (null otherwise): what a stranger types is not kept.
    project_id: Mapped[str | None] = mapped_column(String(64))
    instance_id: Mapped[str | None] = mapped_column(String(64))
    node_id: Mapped[str | None] = mapped_column(String(64))
    actor_kind: Mapped[str] = mapped_column(String(16))  # user | access_key | task | anonymous
    actor_user_id: Mapped[str | None] = mapped_column(String(32))
    actor_name: Mapped[str | None] = mapped_column(String(130))
    access_key: Mapped[str | None] = mapped_column(String(64))
    task_id: Mapped[str | None] = mapped_column(String(32))
    source_ip: Mapped[str | None] = mapped_column(String(64))
    mode: Mapped[str | None] = mapped_column(String(16))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    requested: Mapped[dict[str, Any]] = mapped_column(default=dict)
    outcome: Mapped[str] = mapped_column(String(16))  # pending | ok | refused | failed | interrupted
    http_status: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(32))
    results: Mapped[list[Any]] = mapped_column(default=list)
    duration_ms: Mapped[float | None] = mapped_column(Float)
    # Unauthenticated refusals are aggregated: one record per source address and time window, with
    # how many there were and when the last one came.
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    last_at: Mapped[datetime | None] = mapped_column(default=None)
    # When a record left pending by a call that never finished (the process died) was settled
    # from the node's state, and by which process.
    settled_at: Mapped[datetime | None] = mapped_column(default=None)
    settled_by: Mapped[str | None] = mapped_column(String(128), default=None)


class KillTask(Base):
    """A kill rule the service keeps applying to a node (pt-kill's loop, DBbrain's kill task).

    ``lease_owner``/``lease_until`` make one service process at a time the runner of a task; a
    lease that runs out (the process died) lets another process (or the restarted one) take over.
    """

    __tablename__ = "kill_tasks"
    __table_args__ = (
        Index("ix_kill_tasks_project_state", "project_id", "state"),
        Index("ix_kill_tasks_instance_kind", "instance_id", "kind", "state"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), default="")
    # "custom": this service's kill task, on one node; "auto": TaurusDB's automatic kill task
    # (AddKillProcessTask), on every node of its instance (node_id null), while the switch is on.
    kind: Mapped[str] = mapped_column(String(16), default="custom")
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    instance_id: Mapped[str] = mapped_column(String(36))
    node_id: Mapped[str | None] = mapped_column(String(36))
    created_by_user_id: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(130))
    filter: Mapped[dict[str, Any]] = mapped_column()
    mode: Mapped[str] = mapped_column(String(16))
    victims: Mapped[str] = mapped_column(String(16))
    interval_seconds: Mapped[int] = mapped_column(Integer)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    max_victims_per_pass: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))  # running | stopped | finished | failed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ends_at: Mapped[datetime | None] = mapped_column()
    stopped_at: Mapped[datetime | None] = mapped_column()
    stopped_by: Mapped[str | None] = mapped_column(String(130))
    passes: Mapped[int] = mapped_column(Integer, default=0)
    victims_killed: Mapped[int] = mapped_column(Integer, default=0)
    last_pass_at: Mapped[datetime | None] = mapped_column()
    next_pass_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column()


class IntelligentKillTask(Base):
    """One ExecuteIntelligentKillSession: the top SQL-template groups of a node, killed as one
    audited task (its victims are the results of its audit record)."""

    __tablename__ = "intelligent_kill_tasks"
    __table_args__ = (Index("ix_intelligent_kill_node_started", "node_id", "started_at"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    instance_id: Mapped[str] = mapped_column(String(36))
    node_id: Mapped[str] = mapped_column(String(36))
    created_by: Mapped[str] = mapped_column(String(130))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column()
    audit_request_id: Mapped[str] = mapped_column(String(64))
    victims_killed: Mapped[int] = mapped_column(Integer, default=0)


class AutoSqlLimitingRule(Base):
    """TaurusDB's autonomous SQL limiting on one primary node (SetAutoSqlLimiting): when, inside the
    daily window, CPU and/or active sessions stay at or above their thresholds for ``duration``
    minutes, the top SELECT template becomes a limit of ``max_concurrency`` for ``clear_time`` minutes.

    One service process at a time evaluates a node's rule (``lease_owner``/``lease_until``); what it
    last saw is kept here so that any replica can answer ShowSqlAutoSqlLimiting.
    """

    __tablename__ = "auto_sql_limiting_rules"
    node_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    instance_id: Mapped[str] = mapped_column(String(36), index=True)
    start_time: Mapped[str] = mapped_column(String(5))  # "hh:mm", the service's limiting time zone
    end_time: Mapped[str] = mapped_column(String(5))
    condition: Mapped[str] = mapped_column(String(3))  # and | or
    cpu_usage: Mapped[int] = mapped_column(Integer)
    active_sessions: Mapped[int] = mapped_column(Integer)
    clear_time: Mapped[int] = mapped_column(Integer)
    duration: Mapped[int] = mapped_column(Integer)
    max_concurrency: Mapped[int] = mapped_column(BigInteger)
    retain_sql_rule: Mapped[bool] = mapped_column(Boolean)
    # The limits act for this user: its kills are audited in its name, and stop if it loses the right.
    created_by_user_id: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(130))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column()
    # The evaluation, as last saved by the lease holder.
    evaluated_at: Mapped[datetime | None] = mapped_column()
    conditions_since: Mapped[datetime | None] = mapped_column()
    last_active_sessions: Mapped[int | None] = mapped_column(Integer)
    last_cpu_usage: Mapped[float | None] = mapped_column(Float)
    last_note: Mapped[str | None] = mapped_column(String(500))


class AutoSqlLimit(Base):
    """A limit a rule created (a row of ShowAutoSqlLimitingLog): executions matching ``pattern``
    beyond ``max_concurrency`` are stopped from ``create_at`` to ``expire_at`` (or ``ended_at``,
    when the rule was changed or switched off first)."""

    __tablename__ = "auto_sql_limits"
    __table_args__ = (Index("ix_auto_sql_limits_node_created", "node_id", "create_at"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    instance_id: Mapped[str] = mapped_column(String(36))
    node_id: Mapped[str] = mapped_column(String(36))
    pattern: Mapped[str] = mapped_column(Text)
    sql_type: Mapped[str] = mapped_column(String(16))
    template: Mapped[str] = mapped_column(Text)  # the SQL template whose sessions fired the rule
    sessions: Mapped[int] = mapped_column(Integer)  # how many ran it then
    max_concurrency: Mapped[int] = mapped_column(BigInteger)
    create_at: Mapped[datetime] = mapped_column()
    expire_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    end_reason: Mapped[str | None] = mapped_column(String(200))
    stopped: Mapped[int] = mapped_column(Integer, default=0)  # executions stopped under this limit


class Job(Base):
    """An asynchronous job as TaurusDB reports it (ShowGaussMySqlJobInfo, ``GET /v3/{project_id}/jobs``)."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    instance_id: Mapped[str] = mapped_column(String(36))
    instance_name: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # Pending | Running | Completed | Failed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column()
    fail_reason: Mapped[str | None] = mapped_column(String(500))


class RealtimeSessionJob(Base):
    """One CollectRealtimeSession: a snapshot of a node's sessions, collected in the background by
    the process that received the call, readable (status, file) from any replica until it expires."""

    __tablename__ = "realtime_session_jobs"
    __table_args__ = (
        Index("ix_realtime_session_project_status", "project_id", "status"),
        Index("ix_realtime_session_expires", "expires_at"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    instance_id: Mapped[str] = mapped_column(String(36))
    node_id: Mapped[str] = mapped_column(String(36))
    created_by: Mapped[str] = mapped_column(String(130))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16))  # running | finished | error
    request: Mapped[dict[str, Any]] = mapped_column()  # the body, defaults filled in
    finished_at: Mapped[datetime | None] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    row_count: Mapped[int | None] = mapped_column(Integer)
    # A fixed text chosen by the service (never a driver's message, which may name the account).
    error: Mapped[str | None] = mapped_column(String(500))
    # The CSV file, as bytes: a statement may hold a NUL, which PostgreSQL's text type refuses.
    result: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)


class AccessKey(Base):
    """A permanent access key (AK/SK) of a user; it acts as its user, with that user's roles."""

    __tablename__ = "access_keys"
    ak: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    sk_enc: Mapped[str] = mapped_column(Text)  # Fernet under the master key; shown once, at creation
    description: Mapped[str] = mapped_column(String(255), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()


class AccessKeyFailures(Base):
    """Failed signatures in a row for one access key from one source address, and its lock-out:
    counted per address, so knowing an AK is not enough to lock its owner out."""

    __tablename__ = "access_key_failures"
    ak: Mapped[str] = mapped_column(ForeignKey("access_keys.ak", ondelete="CASCADE"), primary_key=True)
    source_ip: Mapped[str] = mapped_column(String(64), primary_key=True)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RevokedToken(Base):
    """A token signed out before its expiry (kept until then, by the digest of the token only)."""

    __tablename__ = "revoked_tokens"
    token_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32))
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class DbUser(Base):
    """A database account registered for DAS's operations (contract Part G): the service acts on
    the instance's nodes *as this account*, so the database's own privileges decide what a call may
    see and kill. The password is kept only sealed under the master key."""

    __tablename__ = "das_db_users"
    __table_args__ = (UniqueConstraint("instance_id", "username"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # a UUID, as DAS's db_user_id
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    username: Mapped[str] = mapped_column(String(128))
    password_enc: Mapped[str] = mapped_column(Text)  # Fernet under the master key
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
