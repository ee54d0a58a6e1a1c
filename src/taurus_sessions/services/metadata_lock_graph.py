"""Who blocks whom among metadata locks (DAS's block_process / wait_process): the server's own
compatibility rules for metadata locks, applied to one read of performance_schema.metadata_locks.

A pending request waits for every other session that holds a granted lock on the same object that
is incompatible with it, and for every other session whose pending request on that object comes
first by priority (a waiting EXCLUSIVE makes new SHARED_READ requests queue behind it: that is how
an ALTER TABLE waiting for an idle transaction stalls every SELECT after it). A granted lock is
waited for by the pending requests on its object it is incompatible with. The tables are MySQL's
and MariaDB's (sql/mdl.cc); lock types they do not list (MariaDB's BACKUP locks, for instance)
conflict with nothing here rather than with everything: the answer stays "no known blocker".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from taurus_sessions.das_domain import DasProcess, MetadataLock

# Object-scoped locks (tables, routines, ...). Columns and rows in this order.
_OBJECT_TYPES = ("S", "SH", "SR", "SW", "SU", "SRO", "SNW", "SNRW", "X")
_NAMES = {
    "SHARED": "S",
    "SHARED_HIGH_PRIO": "SH",
    "SHARED_READ": "SR",
    "SHARED_WRITE": "SW",
    "SHARED_WRITE_LOW_PRIO": "SW",  # MySQL 8's SWLP ranks with SW for others' requests
    "SHARED_UPGRADABLE": "SU",
    "SHARED_READ_ONLY": "SRO",
    "SHARED_NO_WRITE": "SNW",
    "SHARED_NO_READ_WRITE": "SNRW",
    "EXCLUSIVE": "X",
    "INTENTION_EXCLUSIVE": "IX",
}
# A request (row) is compatible with a granted lock (column) where the mark is "+".
_GRANTED = {
    "S": "++++++++-",
    "SH": "++++++++-",
    "SR": "+++++++--",
    "SW": "+++++----",
    "SU": "++++-+---",
    "SRO": "+++-+++--",
    "SNW": "+++--+---",
    "SNRW": "++-------",
    "X": "---------",
}
# A request (row) may overtake a pending request (column) where the mark is "+".
_PENDING = {
    "S": "++++++++-",
    "SH": "+++++++++",
    "SR": "+++++++--",
    "SW": "++++++---",
    "SU": "++++++++-",
    "SRO": "+++-+++--",
    "SNW": "++++++++-",
    "SNRW": "++++++++-",
    "X": "+++++++++",
}
# Scoped locks (GLOBAL, SCHEMA, COMMIT, ...): intention exclusive, shared, exclusive.
_SCOPED_TYPES = ("IX", "S", "X")
_SCOPED_GRANTED = {"IX": "+--", "S": "-+-", "X": "---"}
_SCOPED_PENDING = {"IX": "+--", "S": "++-", "X": "+++"}
_SCOPED_OBJECTS = {"GLOBAL", "SCHEMA", "COMMIT", "TABLESPACE", "BACKUP"}


def _compatible(request: str, other: str, scoped: bool, pending: bool) -> bool:
    """Whether ``request`` may be granted beside ``other`` (granted, or pending ahead of it)."""
    table: dict[str, str]
    order: tuple[str, ...]
    if scoped:
        table, order = (_SCOPED_PENDING if pending else _SCOPED_GRANTED), _SCOPED_TYPES
    else:
        table, order = (_PENDING if pending else _GRANTED), _OBJECT_TYPES
    mine, theirs = _NAMES.get(request), _NAMES.get(other)
    if mine not in table or theirs not in order:
        return True  # a lock type the tables do not know: claim no conflict
    return table[mine][order.index(theirs)] == "+"


def blocks(request: MetadataLock, other: MetadataLock) -> bool:
    """Whether ``other`` (another session's lock on the same object) keeps ``request`` waiting."""
    if request.status != "PENDING" or other.thread_id == request.thread_id:
        return False
    if other.lock_object != request.lock_object or other.status not in ("GRANTED", "PENDING"):
        return False
    scoped = request.object_type in _SCOPED_OBJECTS
    return not _compatible(request.lock_type, other.lock_type, scoped, other.status == "PENDING")


@dataclass
class LockEdges:
    lock: MetadataLock
    block_process: list[DasProcess] = field(default_factory=list)
    wait_process: list[DasProcess] = field(default_factory=list)


def edges(locks: Sequence[MetadataLock]) -> list[LockEdges]:
    """Per lock: for a pending one, the sessions it waits for; for a granted one, the sessions
    waiting for it (each session once, lowest id first)."""
    by_object: dict[tuple[str, str | None, str | None], list[MetadataLock]] = {}
    for lock in locks:
        by_object.setdefault(lock.lock_object, []).append(lock)
    result = []
    for lock in locks:
        entry = LockEdges(lock)
        peers = by_object[lock.lock_object]
        if lock.status == "PENDING":
            entry.block_process = _sessions(other for other in peers if blocks(lock, other))
        elif lock.status == "GRANTED":
            waiting = (
                other
                for other in peers
                if other.status == "PENDING"
                and other.thread_id != lock.thread_id
                and _granted_blocks(other, lock)
            )
            entry.wait_process = _sessions(waiting)
        result.append(entry)
    return result


def _granted_blocks(request: MetadataLock, granted: MetadataLock) -> bool:
    scoped = request.object_type in _SCOPED_OBJECTS
    return not _compatible(request.lock_type, granted.lock_type, scoped, pending=False)


def _sessions(locks: Iterable[MetadataLock]) -> list[DasProcess]:
    seen: dict[int, DasProcess] = {}
    for lock in locks:
        seen.setdefault(lock.thread_id, lock.session)
    return [seen[thread_id] for thread_id in sorted(seen)]
