"""Every session the soak opened, and what became of it as seen on the node itself.

A session is keyed as the audit trail names a victim: the node, the thread id and the client
``host:port``. Thread ids start again from 1 when a server restarts; the client port tells an old
session from a new one with the same id.

States: ``open`` (held, last seen alive), ``gone`` (seen absent from the node: something killed
it), ``self_closed`` (the soak closed it while it was alive), ``lost`` (its server was restarted
before it was seen gone: nothing can be said of it).
"""

from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from bench.wire import close_session

OPEN = "open"
GONE = "gone"
SELF_CLOSED = "self_closed"
LOST = "lost"

Key = tuple[str, int, str]  # node id, thread id, client host:port


@dataclass(eq=False, slots=True)
class Session:
    node_id: str
    purpose: str  # storm | sweep | task | bystander
    user: str
    thread_id: int
    port: int
    epoch: int  # which life of the node's server it was opened in
    opened_at: float
    sock: socket.socket | None
    state: str = OPEN
    alive_seen_at: float = 0.0  # the start of the last probe that found it on the node
    gone_seen_at: float | None = None  # the end of the first probe that did not

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def key(self) -> Key:
        return (self.node_id, self.thread_id, self.host)


class Ledger:
    def __init__(self) -> None:
        self.sessions: list[Session] = []
        self._open: dict[str, set[Session]] = {}
        self.open_failures = 0

    def add(self, session: Session) -> Session:
        self.sessions.append(session)
        self._open.setdefault(session.node_id, set()).add(session)
        return session

    def open_on(self, node_id: str, purpose: str | None = None) -> list[Session]:
        return [s for s in self._open.get(node_id, ()) if purpose is None or s.purpose == purpose]

    def seen_alive(self, session: Session, at: float) -> None:
        session.alive_seen_at = max(session.alive_seen_at, at)

    def gone(self, session: Session, at: float) -> None:
        self._end(session, GONE)
        session.gone_seen_at = at

    def self_close(self, session: Session) -> None:
        self._end(session, SELF_CLOSED)

    def lose(self, sessions: Iterable[Session]) -> None:
        for session in list(sessions):
            self._end(session, LOST)

    def _end(self, session: Session, state: str) -> None:
        if session.state != OPEN:
            return
        session.state = state
        self._open.get(session.node_id, set()).discard(session)
        if session.sock is not None:
            close_session(session.sock)
            session.sock = None

    def close_all(self) -> None:
        for sessions in self._open.values():
            for session in list(sessions):
                self.self_close(session)

    def index(self) -> dict[Key, list[Session]]:
        found: dict[Key, list[Session]] = {}
        for session in self.sessions:
            found.setdefault(session.key, []).append(session)
        return found

    def counts(self) -> dict[str, dict[str, int]]:
        """Sessions per purpose and state."""
        table: dict[str, Counter[str]] = {}
        for session in self.sessions:
            table.setdefault(session.purpose, Counter())[session.state] += 1
        return {purpose: dict(states) for purpose, states in sorted(table.items())}


def now() -> float:
    return time.time()
