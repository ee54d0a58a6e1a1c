"""nodes/sql: LIKE patterns, filters as bound parameters, KILL statements, the internal-thread rule."""

from __future__ import annotations

import pytest

from taurus_sessions.domain import KillMode, ThreadFilter
from taurus_sessions.nodes import dialects, sql


def test_like_pattern_escapes_like_characters() -> None:
    assert sql.like_pattern("shop_app") == "shop!_app"
    assert sql.like_pattern("100%") == "100!%"
    assert sql.like_pattern("a!b") == "a!!b"
    assert sql.like_pattern("app*") == "app%"
    assert sql.like_pattern("a?c") == "a_c"
    assert sql.like_pattern("from orders", substring=True) == "%from orders%"


def test_filter_values_travel_as_parameters_only() -> None:
    hostile = "x' OR 1=1; KILL 1; --"
    fragment = sql.filter_fragment(ThreadFilter(user=hostile, info=hostile, host=hostile))
    assert fragment is not None
    assert hostile not in fragment.sql and "OR 1=1" not in fragment.sql
    assert any(isinstance(p, str) and "OR 1=1" in p for p in fragment.params)


def test_kill_statement_takes_ints_only() -> None:
    assert sql.kill_statement(42, KillMode.CONNECTION) == "KILL CONNECTION 42"
    assert sql.kill_statement(42, KillMode.QUERY) == "KILL QUERY 42"
    for bad in (True, -1, "42", 4.2):
        with pytest.raises(ValueError, match="non-negative ints"):
            sql.kill_statement(bad, KillMode.CONNECTION)  # type: ignore[arg-type]


def test_internal_rule_lists_system_accounts_case_insensitively() -> None:
    rule = sql.InternalRule(dialects.MARIADB, ["rdsAdmin", "RDSREPL", "svc"])
    assert {"rdsadmin", "rdsrepl", "svc"} <= set(rule.flag.params)
    mysql = sql.InternalRule(dialects.mysql(True, True), ["x"])
    assert "BACKGROUND" in mysql.flag.sql and "performance_schema.processlist" in mysql.dialect.source
