"""What DAS's session and lock operations read from a node (contract Part G), free of wire shapes:
the API renders these as DAS's string-typed fields."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from taurus_sessions.domain import Process


@dataclass(frozen=True, slots=True)
class DasProcess:
    """A session as the registered account sees it, with the age of its open transaction."""

    process: Process
    trx_seconds: int | None  # None: no open transaction, or the account may not read InnoDB's


@dataclass(frozen=True, slots=True)
class DasProcessPage:
    processes: list[DasProcess]
    count: int


@dataclass(frozen=True, slots=True)
class DasProcessQuery:
    user: str | None = None
    database: str | None = None
    offset: int = 0
    limit: int = 20


@dataclass(frozen=True, slots=True)
class MetadataLock:
    """One row of performance_schema.metadata_locks, with the session that owns it."""

    object_type: str  # TABLE, SCHEMA, GLOBAL, BACKUP, COMMIT, ...
    schema: str | None
    name: str | None
    lock_type: str  # SHARED_READ, EXCLUSIVE, ... (without DAS's MDL_ prefix)
    duration: str  # STATEMENT, TRANSACTION, EXPLICIT
    status: str  # PENDING or GRANTED
    session: DasProcess

    @property
    def thread_id(self) -> int:
        return self.session.process.id

    @property
    def lock_object(self) -> tuple[str, str | None, str | None]:
        return (self.object_type, self.schema, self.name)


@dataclass(frozen=True, slots=True)
class InnodbLock:
    lock_id: str
    trx_id: str
    mode: str | None
    type: str | None
    table: str | None
    index: str | None
    space: str | None
    page: str | None
    rec: str | None
    data: str | None


@dataclass(frozen=True, slots=True)
class InnodbTrx:
    trx_id: str
    state: str | None
    started: datetime | None
    wait_started: datetime | None
    thread_id: int
    query: str | None
    tables_locked: int
    rows_locked: int
    rows_modified: int
    isolation_level: str | None


@dataclass(frozen=True, slots=True)
class InnodbLockWait:
    requesting_trx_id: str
    requested_lock_id: str
    blocking_trx_id: str
    blocking_lock_id: str


@dataclass(frozen=True, slots=True)
class InnodbLockReport:
    transactions: list[InnodbTrx]
    locks: list[InnodbLock]
    waits: list[InnodbLockWait]
