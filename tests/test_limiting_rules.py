"""The decisions of autonomous SQL limiting (pure functions) and the CPU sources' parsing."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from taurus_sessions.domain import Process, Thread
from taurus_sessions.services.cpu_sources import CpuMeter, _cpu_counters, parse_cpu_source, source_kind
from taurus_sessions.services.limiting_rules import (
    CpuState,
    Execution,
    Limit,
    check_conditions,
    excess,
    in_window,
    limitable,
    minutes_of,
    top_sql,
)


def thread(thread_id: int, statement: str, user: str = "app", query_id: int | None = None) -> Thread:
    process = Process(thread_id, user, "10.0.0.1:5000", "shop", "Query", 1, "Sending data", statement)
    return Thread(process, False, query_id)


def test_clock_times_and_windows() -> None:
    assert minutes_of("00:00") == 0 and minutes_of("23:59") == 1439 and minutes_of("09:30") == 570
    for bad in ("24:00", "9:30", "12:60", "1230", "ab:cd", "12:3", " 12:30"):
        with pytest.raises(ValueError, match="a time is"):
            minutes_of(bad)
    assert in_window("00:00", "23:59", 0) and in_window("00:00", "23:59", 1439)
    assert in_window("15:00", "20:00", 15 * 60) and in_window("15:00", "20:00", 20 * 60)
    assert not in_window("15:00", "20:00", 20 * 60 + 1) and not in_window("15:00", "20:00", 14 * 60 + 59)
    # over midnight
    assert in_window("22:00", "02:00", 23 * 60) and in_window("22:00", "02:00", 60)
    assert not in_window("22:00", "02:00", 12 * 60)
    assert in_window("10:00", "10:00", 600) and not in_window("10:00", "10:00", 601)


@pytest.mark.parametrize(
    ("condition", "cpu", "active", "holds", "cpu_state"),
    [
        ("and", 95.0, 30, True, CpuState.MET),
        ("and", 50.0, 30, False, CpuState.NOT_MET),
        ("and", 95.0, 3, False, CpuState.MET),
        ("and", None, 30, False, CpuState.UNKNOWN),  # unknown CPU: an "and" rule never fires
        ("or", None, 30, True, CpuState.UNKNOWN),  # ... an "or" rule fires on sessions alone
        ("or", None, 3, False, CpuState.UNKNOWN),
        ("or", 95.0, 3, True, CpuState.MET),
        ("or", 90.0, 10, True, CpuState.MET),  # thresholds are inclusive
    ],
)
def test_conditions(condition: str, cpu: float | None, active: int, holds: bool, cpu_state: CpuState) -> None:
    check = check_conditions(condition, 90, 10, cpu, active)
    assert check.holds is holds and check.cpu is cpu_state


def test_limits_come_from_selects_of_accounts_other_than_root() -> None:
    executing = [
        (thread(1, "SELECT * FROM t WHERE id = 1"), 1.0),
        (thread(2, "select * from t where id=2"), 2.0),
        (thread(3, "UPDATE t SET a = 1"), 9.0),
        (thread(4, "SELECT * FROM t WHERE id = 4", user="root"), 9.0),
        (thread(5, "(SELECT 1) UNION (SELECT 2)"), 1.0),
    ]
    assert [e.thread.process.id for e in limitable(executing)] == [1, 2, 5]
    top = top_sql(limitable(executing))
    assert top is not None
    assert (top.template, top.pattern, top.sessions) == (
        "SELECT * FROM t WHERE id = ?",
        "SELECT~FROM~t~WHERE~id",
        2,
    )


def test_the_top_sql_skips_a_pattern_already_limited_and_breaks_ties_by_time() -> None:
    executions = [
        Execution(thread(1, "SELECT a FROM x WHERE k = 1"), 1.0),
        Execution(thread(2, "SELECT a FROM x WHERE k = 2"), 1.0),
        Execution(thread(3, "SELECT b FROM y WHERE k = 3"), 5.0),
        Execution(thread(4, "SELECT b FROM y WHERE k = 4"), 5.0),
        Execution(thread(5, "SELECT c FROM z"), 1.0),
    ]
    first = top_sql(executions)
    assert first is not None and first.pattern == "SELECT~b~FROM~y~WHERE~k"  # same count, more time
    second = top_sql(executions, taken=[first.pattern])
    assert second is not None and second.pattern == "SELECT~a~FROM~x~WHERE~k"
    assert top_sql([], taken=()) is None
    assert top_sql(executions[:1], taken=["SELECT~a~FROM~x~WHERE~k"]) is None


def test_the_newest_executions_beyond_max_concurrency_are_stopped() -> None:
    # query ids tell which started first (MariaDB numbers every statement)
    executions = [
        Execution(thread(10, "SELECT a FROM x WHERE k = 1", query_id=500), 0.1),
        Execution(thread(11, "SELECT a FROM x WHERE k = 2", query_id=300), 0.1),
        Execution(thread(12, "SELECT a FROM x WHERE k = 3", query_id=900), 0.1),
        Execution(thread(13, "SELECT a FROM x WHERE k = 4", query_id=100), 0.1),
        Execution(thread(14, "SELECT other FROM y", query_id=50), 0.1),
    ]
    over = excess(executions, [Limit("L1", "SELECT~a~FROM~x", 2)])
    assert [e.thread.process.id for e in over["L1"]] == [12, 10]  # newest first; 13 and 11 go on
    assert excess(executions, [Limit("L1", "SELECT~a~FROM~x", 4)]) == {}
    assert [e.thread.process.id for e in excess(executions, [Limit("L0", "SELECT~a", 0)])["L0"]] == [
        12,
        10,
        11,
        13,
    ]
    # without query ids: the time in state, then the thread id
    timed = [
        Execution(thread(1, "SELECT a FROM x"), 9.0),
        Execution(thread(2, "SELECT a FROM x"), 1.0),
        Execution(thread(3, "SELECT a FROM x"), 1.0),
    ]
    assert [e.thread.process.id for e in excess(timed, [Limit("L", "SELECT~a", 1)])["L"]] == [3, 2]


def test_an_execution_counts_under_the_newest_matching_limit_only() -> None:
    executions = [Execution(thread(i, "SELECT a FROM x JOIN y", query_id=i), 0.1) for i in range(1, 6)]
    newest, older = Limit("new", "SELECT~JOIN", 3), Limit("old", "SELECT~a~FROM~x", 1)
    over = excess(executions, [newest, older])
    assert [e.thread.process.id for e in over["new"]] == [5, 4] and "old" not in over


def test_cpu_sources_are_parsed_and_named() -> None:
    assert parse_cpu_source(" pidfile:/run/mysqld/mysqld.pid ") == "pidfile:/run/mysqld/mysqld.pid"
    assert parse_cpu_source("http://10.0.0.5:9100/metrics") == "http://10.0.0.5:9100/metrics"
    for bad, why in (
        ("pidfile:relative.pid", "absolute"),
        ("http://user:secret@10.0.0.5:9100/metrics", "user name or password"),
        ("ftp://10.0.0.5/metrics", "node-exporter"),
        ("", "1 to 512"),
        ("x" * 600, "1 to 512"),
    ):
        with pytest.raises(ValueError, match=why):
            parse_cpu_source(bad)
    assert [source_kind(s) for s in (None, "pidfile:/x", "http://h:9100/metrics")] == [
        "none",
        "process",
        "node_exporter",
    ]


def test_node_exporter_counters_leave_out_idle_iowait_and_steal() -> None:
    text = (
        "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n"
        "# TYPE node_cpu_seconds_total counter\n"
        'node_cpu_seconds_total{cpu="0",mode="idle"} 100\n'
        'node_cpu_seconds_total{cpu="0",mode="iowait"} 10\n'
        'node_cpu_seconds_total{cpu="0",mode="steal"} 5\n'
        'node_cpu_seconds_total{cpu="0",mode="user"} 60\n'
        'node_cpu_seconds_total{cpu="0",mode="system"} 25\n'
        'node_cpu_seconds_total{cpu="1",mode="idle"} 150\n'
        'node_cpu_seconds_total{cpu="1",mode="user"} 50\n'
        "# TYPE node_load1 gauge\nnode_load1 3\n"
    )
    sample = _cpu_counters("http://h/metrics", text)
    assert (sample.busy, sample.total) == (135.0, 400.0)


def test_a_process_reading_needs_two_samples_and_follows_a_new_pid(tmp_path: Path) -> None:
    pid_file = tmp_path / "server.pid"
    pid_file.write_text(f"{os.getpid()}\n")
    meter = CpuMeter()
    source = f"pidfile:{pid_file}"

    async def readings() -> list[float | None]:
        first = await meter.read("n", source)
        sum(i * i for i in range(300_000))  # some CPU time of this process
        second = await meter.read("n", source)
        pid_file.write_text(f"{os.getppid()}\n")  # a restart: another process
        third = await meter.read("n", source)
        pid_file.write_text("not a pid")
        fourth = await meter.read("n", source)
        assert fourth.note is not None and "pid file" in fourth.note
        missing = await meter.read("m", "pidfile:/nonexistent/x.pid")
        assert missing.usage is None and missing.note is not None
        none = await meter.read("m", None)
        assert none.note == "the node has no CPU source"
        await meter.close()
        return [first.usage, second.usage, third.usage]

    first, second, third = asyncio.run(readings())
    assert first is None and third is None
    assert second is not None and 0 < second <= 100
