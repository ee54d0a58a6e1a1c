"""Realtime session collection's SQL (caller values as parameters only, every sort, both server
families) and its optional body; the time filters' range."""

from __future__ import annotations

import typing

import pytest

from taurus_sessions import errors
from taurus_sessions.api.realtime_sessions import RealtimeSessionRequest, SortKeyName
from taurus_sessions.api.requests import parse_optional_body
from taurus_sessions.domain import RealtimeQuery, ThreadFilter
from taurus_sessions.nodes import dialects, realtime, sql


def test_realtime_collection_values_travel_as_parameters_only() -> None:
    hostile = "x' OR 1=1; KILL 1; --"
    rule = sql.InternalRule(dialects.MARIADB, ["rdsAdmin"])
    query = RealtimeQuery(
        filter="slow", user=hostile, host=hostile, db=hostile, command="Query", sql_key=hostile
    )
    fragment = realtime.realtime_sessions(rule, query, max_rows=100, info_chars=4096)
    assert hostile not in fragment.sql and "OR 1=1" not in fragment.sql
    assert fragment.sql.count("%s") == len(fragment.params)
    assert fragment.params[0] == 4096 and fragment.params[-1] == 100  # the cut and the cap, bound too
    assert f"%{hostile}%" in fragment.params  # sql_key: a substring
    escaped = realtime.realtime_sessions(rule, RealtimeQuery(sql_key="50%_off*"), 1, 1)
    assert "%50!%!_off*%" in escaped.params  # LIKE's own characters match themselves
    for sort_key in typing.get_args(SortKeyName):
        for descending in (False, True):
            ordered = realtime.realtime_sessions(
                rule, RealtimeQuery(sort_key=sort_key, descending=descending), 1, 1
            )
            assert ("DESC" in ordered.sql) is descending
    with pytest.raises(KeyError):
        realtime.realtime_sessions(rule, RealtimeQuery(sort_key="p.ID; DROP TABLE x"), 1, 1)
    # MySQL 8: the same statement over its own processlist and whole seconds
    mysql = sql.InternalRule(dialects.mysql(True, True), [])
    assert "performance_schema.processlist p" in realtime.realtime_sessions(mysql, RealtimeQuery(), 1, 1).sql


def test_an_empty_body_means_the_defaults_where_the_body_is_optional() -> None:
    for body in (b"", b"  ", b"{}"):
        assert (
            parse_optional_body(RealtimeSessionRequest, body, "application/json") == RealtimeSessionRequest()
        )
    with pytest.raises(errors.ParameterError):
        parse_optional_body(RealtimeSessionRequest, b'{"filter": "all"}', "application/json")


def test_time_filters_reach_the_processlist_s_range() -> None:
    # ShowKillProcessTaskPreview and AddKillProcessTask take up to 2^31-1 seconds (found by the fuzzer)
    assert ThreadFilter(min_time=2**31 - 1).min_time == 2**31 - 1
