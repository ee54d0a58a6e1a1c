"""The fault proxy against a real MariaDB node, with PyMySQL as the client: each fault fails the
client the way a real network fault would, within a bounded time."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeAlias

import pymysql
import pymysql.connections
import pytest

from support.faultproxy import FaultProxy
from support.sessions import wait_gone
from taurus_sessions.sandbox.instance import APP_DATABASE, SandboxInstance

pytestmark = pytest.mark.timeout(60)

# Strings: PyMySQL's Connection is generic only in its type stubs.
Connection: TypeAlias = "pymysql.connections.Connection[Any]"
Connect: TypeAlias = "Callable[..., Connection]"

# PyMySQL's client error codes (CR_*), as the exceptions carry them.
CONN_HOST_ERROR = 2003  # could not connect
SERVER_GONE = 2006  # a write failed: the connection was already gone
SERVER_LOST = 2013  # a read failed or ended early: the connection went away mid-exchange

BIG = 1_000_000  # bytes in one result row: many TCP chunks, so a cut lands mid-result
READ_TIMEOUT = 0.5
# "At once": far below the clients' own timeouts (2 s connect, 5 s read), so the failure came
# from the fault and not from a client timing out; on an idle machine it takes milliseconds.
AT_ONCE = 1.0


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxInstance]:
    """A standalone server of its own, so faults never reach the other tests' nodes."""
    instance = SandboxInstance.start(tmp_path_factory.mktemp("proxied"), with_replica=False)
    yield instance
    instance.stop()


@pytest.fixture
def proxy(node: SandboxInstance) -> Iterator[FaultProxy]:
    with FaultProxy("127.0.0.1", node.primary.port) as proxy:
        yield proxy


@pytest.fixture
def connect(node: SandboxInstance, proxy: FaultProxy) -> Iterator[Connect]:
    """Opens PyMySQL connections through the proxy, with short timeouts; closes them afterwards."""
    opened: list[Connection] = []

    def open_connection(read_timeout: float = 5.0) -> Connection:
        conn = pymysql.connect(
            host="127.0.0.1",
            port=proxy.port,
            user=node.app.user,
            password=node.app.password,
            database=APP_DATABASE,
            autocommit=True,
            connect_timeout=2,
            read_timeout=read_timeout,
            write_timeout=2,
        )
        opened.append(conn)
        return conn

    yield open_connection
    for conn in opened:
        with contextlib.suppress(pymysql.err.Error):
            conn.close()


def query(conn: Connection, statement: str) -> tuple[tuple[Any, ...], ...]:
    with conn.cursor() as cursor:
        cursor.execute(statement)
        return tuple(cursor.fetchall())


def timed(call: Callable[[], object]) -> float:
    started = time.monotonic()
    call()
    return time.monotonic() - started


def failure(call: Callable[[], object]) -> tuple[pymysql.err.OperationalError, float]:
    """The OperationalError `call` raises, and how long it took to raise it."""
    started = time.monotonic()
    with pytest.raises(pymysql.err.OperationalError) as caught:
        call()
    return caught.value, time.monotonic() - started


def code(error: pymysql.err.OperationalError) -> int:
    return int(error.args[0])


def cause(error: pymysql.err.OperationalError) -> BaseException | None:
    """The socket error underneath: PyMySQL keeps it as `original_exception` or raises in its handler."""
    original: BaseException | None = getattr(error, "original_exception", None)
    return original or error.__context__


def test_forwards_both_directions_byte_for_byte(connect: Connect, proxy: FaultProxy) -> None:
    conn = connect()
    assert query(conn, "SELECT 1 + 1") == ((2,),)
    ((row,),) = query(conn, f"SELECT REPEAT('x', {BIG})")
    assert row == "x" * BIG
    stats = proxy.stats
    assert stats.connections_accepted == 1 and stats.connections_open == 1
    assert stats.bytes_downstream > BIG and stats.bytes_upstream > 0
    assert proxy.active() == frozenset()


def test_latency_delays_each_direction(connect: Connect, proxy: FaultProxy) -> None:
    conn = connect()
    assert timed(lambda: query(conn, "SELECT 1")) < 0.2

    proxy.latency(0.2)  # both ways: a round trip pays it twice
    assert 0.4 <= timed(lambda: query(conn, "SELECT 1")) < 1.0

    proxy.heal("latency")
    proxy.latency(0.2, direction="downstream")
    assert 0.2 <= timed(lambda: query(conn, "SELECT 1")) < 0.4

    proxy.latency(0.1, jitter=0.05, direction="both")
    for _ in range(3):
        assert 0.1 <= timed(lambda: query(conn, "SELECT 1")) < 0.6

    proxy.heal()
    assert timed(lambda: query(conn, "SELECT 1")) < 0.2


def test_blackhole_times_out_at_the_clients_read_timeout(connect: Connect, proxy: FaultProxy) -> None:
    conn = connect(read_timeout=READ_TIMEOUT)
    proxy.blackhole()

    error, elapsed = failure(lambda: query(conn, "SELECT 1"))
    assert code(error) == SERVER_LOST and isinstance(cause(error), TimeoutError)
    assert READ_TIMEOUT <= elapsed < READ_TIMEOUT + 0.5

    # a new connection is accepted, then hangs in the handshake: the server's greeting is held
    error, elapsed = failure(lambda: connect(read_timeout=READ_TIMEOUT))
    assert code(error) == SERVER_LOST and isinstance(cause(error), TimeoutError)
    assert READ_TIMEOUT <= elapsed < READ_TIMEOUT + 0.5
    assert proxy.stats.connections_accepted == 2


def test_reset_peer_fails_the_next_query_at_once(
    connect: Connect, proxy: FaultProxy, node: SandboxInstance
) -> None:
    conn = connect()
    ((thread_id,),) = query(conn, "SELECT CONNECTION_ID()")
    proxy.reset_peer()

    error, elapsed = failure(lambda: query(conn, "SELECT 1"))
    assert code(error) == SERVER_GONE and isinstance(cause(error), ConnectionResetError)
    assert elapsed < AT_ONCE
    assert wait_gone(node.primary, {thread_id}) == set()  # the server's end was reset as well

    for _ in range(3):
        error, elapsed = failure(lambda: connect())
        # Reset right after the accept: PyMySQL reports a failed connect when the RST lands before
        # its connect() call has returned, a lost connection when it already waits for the greeting.
        assert code(error) in (CONN_HOST_ERROR, SERVER_LOST)
        assert isinstance(cause(error), ConnectionResetError)
        assert elapsed < AT_ONCE
    assert proxy.stats.connections_open == 0


def test_cut_after_breaks_a_result_midway(connect: Connect, proxy: FaultProxy) -> None:
    conn = connect()
    assert query(conn, "SELECT 1") == ((1,),)
    before = proxy.stats.bytes_downstream
    proxy.cut_after(200_000, once=True)  # counted from now: only the next result is cut

    error, elapsed = failure(lambda: query(conn, f"SELECT REPEAT('x', {BIG})"))
    assert code(error) == SERVER_LOST and isinstance(cause(error), ConnectionResetError)
    assert elapsed < AT_ONCE
    assert proxy.stats.bytes_downstream - before == 200_000
    assert proxy.active() == frozenset()  # a once-only cut removes itself

    ((row,),) = query(connect(), f"SELECT REPEAT('x', {BIG})")
    assert len(row) == BIG


def test_cut_after_counts_new_connections_from_their_first_byte(connect: Connect, proxy: FaultProxy) -> None:
    # Upstream, so the cut lands in PyMySQL's login packet while it waits for the answer.
    proxy.cut_after(50, direction="upstream")

    for _ in range(2):  # not once-only: every new connection is cut
        error, elapsed = failure(lambda: connect())
        assert code(error) == SERVER_LOST and isinstance(cause(error), ConnectionResetError)
        assert elapsed < AT_ONCE
    assert proxy.stats.bytes_upstream == 2 * 50

    proxy.heal()
    assert query(connect(), "SELECT 1") == ((1,),)


def test_refuse_gives_connection_refused(connect: Connect, proxy: FaultProxy) -> None:
    conn = connect()
    proxy.refuse()

    error, elapsed = failure(lambda: connect())
    assert code(error) == CONN_HOST_ERROR and isinstance(cause(error), ConnectionRefusedError)
    assert elapsed < AT_ONCE
    assert query(conn, "SELECT 1") == ((1,),)  # connections already open are left alone


def test_heal_restores_service_for_new_connections(connect: Connect, proxy: FaultProxy) -> None:
    port = proxy.port
    proxy.latency(1.0)
    proxy.blackhole()
    proxy.cut_after(0)
    proxy.reset_peer()
    proxy.refuse()
    assert proxy.active() == {"latency", "blackhole", "cut_after", "reset_peer", "refuse"}

    proxy.heal("refuse", "reset_peer")  # one by one, by name
    assert proxy.active() == {"latency", "blackhole", "cut_after"}
    proxy.heal()
    assert proxy.active() == frozenset()

    assert proxy.port == port  # the listener came back on the same port
    conn = connect()
    assert timed(lambda: query(conn, f"SELECT LENGTH(REPEAT('x', {BIG}))")) < 0.5


def test_heal_releases_what_a_blackhole_held(connect: Connect, proxy: FaultProxy) -> None:
    conn = connect()
    proxy.blackhole()
    started = time.monotonic()
    healer = threading.Timer(0.3, proxy.heal)
    healer.start()
    assert query(conn, "SELECT 42") == ((42,),)  # held, not lost: it arrives once healed
    assert 0.3 <= time.monotonic() - started < 1.0
    healer.join()


def test_stop_closes_every_connection_and_the_listener(connect: Connect, proxy: FaultProxy) -> None:
    conn = connect()
    proxy.stop()

    error, elapsed = failure(lambda: query(conn, "SELECT 1"))
    assert code(error) == SERVER_GONE and isinstance(cause(error), ConnectionResetError)
    error, elapsed = failure(lambda: connect())
    assert code(error) == CONN_HOST_ERROR and isinstance(cause(error), ConnectionRefusedError)
    assert elapsed < AT_ONCE
    assert proxy.stats.connections_open == 0


def test_faults_are_checked_before_use(proxy: FaultProxy) -> None:
    with pytest.raises(ValueError, match="direction"):
        proxy.latency(0.1, direction="sideways")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        proxy.latency(-1)
    with pytest.raises(ValueError, match="negative"):
        proxy.cut_after(-1)
    with pytest.raises(ValueError, match="unknown"):
        proxy.heal("gremlins")  # type: ignore[arg-type]
    assert proxy.active() == frozenset()
