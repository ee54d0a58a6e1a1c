"""Pure functions: identifier formats, the catalogue's texts, policy patterns, tokens, body parsing."""

from __future__ import annotations

import typing

import pytest
from cryptography.fernet import Fernet

from taurus_sessions import errors, ids
from taurus_sessions.api.processes import DeleteTaurusDbNodeProcessesRequest
from taurus_sessions.api.realtime_sessions import RealtimeSessionRequest, SortKeyName
from taurus_sessions.api.requests import parse_body, parse_optional_body
from taurus_sessions.auth import policy
from taurus_sessions.auth.passwords import hash_password, needs_rehash, verify_password
from taurus_sessions.auth.tokens import NoTokenKeys, TokenProvider
from taurus_sessions.domain import KillMode, RealtimeQuery, ThreadFilter
from taurus_sessions.language import Language
from taurus_sessions.nodes import dialects, realtime, sql


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- identifiers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["a" * 32, "A1" * 16, "x", "9" * 64])
def test_project_ids_accepted(value: str) -> None:
    assert ids.check_project_id(value) == value


@pytest.mark.parametrize("value", ["", "a" * 65, "abc-def", "abc def", "é" * 10, "a/b"])
def test_project_ids_refused_as_parameter_errors(value: str) -> None:
    with pytest.raises(errors.ParameterError):
        ids.check_project_id(value)


def test_instance_and_node_ids() -> None:
    assert ids.check_instance_id("a" * 32 + "in07")
    assert ids.check_node_id("B" * 32 + "no07")
    for bad in [
        "a" * 32 + "no07",
        "a" * 31 + "in07",
        "a" * 33 + "in07",
        "a" * 32 + "IN07",
        "-" * 32 + "in07",
    ]:
        with pytest.raises(errors.BadInstanceOrNodeId):
            ids.check_instance_id(bad)
    with pytest.raises(errors.BadInstanceOrNodeId):
        ids.check_node_id("a" * 32 + "in07")
    assert ids.check_instance_id(ids.new_instance_id()) and ids.check_node_id(ids.new_node_id())


# -- catalogue ------------------------------------------------------------------------------------
def test_every_catalogue_row_has_both_languages_and_a_code() -> None:
    codes = set()
    for cls in errors.catalogue():
        exc = cls()
        assert exc.message(Language.EN_US) and exc.message(Language.ZH_CN)
        assert 400 <= exc.status <= 599
        codes.add(cls.code)
    assert len(codes) == len(errors.catalogue())


def test_catalogue_texts_match_the_contract() -> None:
    assert errors.ParameterError().message(Language.ZH_CN) == "参数错误。"
    assert errors.EmptyRequest().message(Language.EN_US) == "The request is null. Enter a request parameter."
    assert errors.InstanceNotFound().message(Language.ZH_CN) == "实例不存在或已被删除。"
    assert errors.ParameterError("limit").message(Language.EN_US) == "Parameter error.: limit"
    auth = errors.AuthenticationFailed(errors.AuthenticationFailed.TOKEN_NOT_FOUND)
    assert auth.message(Language.ZH_CN) == "Incorrect IAM authentication information: x-auth-token not found"


def test_language_header() -> None:
    assert Language.from_header("ZH-CN") is Language.ZH_CN
    assert Language.from_header(" zh-cn ") is Language.ZH_CN
    assert Language.from_header(None) is Language.EN_US
    assert Language.from_header("fr-fr") is Language.EN_US


# -- policy ---------------------------------------------------------------------------------------
def test_policy_patterns_and_aliases() -> None:
    assert policy.allows(["gaussdb:*"], policy.DELETE_PROCESSES)
    assert policy.allows(["gaussdbformysql:instance:deleteProcesses"], policy.DELETE_PROCESSES)
    assert policy.allows(["gaussdb:instance:list*"], "gaussdbformysql:instance:listProcesses")
    assert not policy.allows(["gaussdb:instance:list*"], policy.DELETE_PROCESSES)
    assert not policy.allows([], policy.LIST_PROCESSES)
    # a dot or bracket in a pattern is literal text, not a regular expression
    assert not policy.allows(["gaussdb:instance:.*"], policy.LIST_PROCESSES)
    assert policy.valid_pattern("gaussdb:instance:*") and not policy.valid_pattern("gaussdb instance")


# -- passwords and tokens -------------------------------------------------------------------------
def test_hashes_with_other_parameters_are_upgraded() -> None:
    from argon2 import PasswordHasher

    old = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4).hash("a long enough secret")
    assert verify_password(old, "a long enough secret")  # still accepted
    assert needs_rehash(old)
    assert not needs_rehash(hash_password("a long enough secret"))


def test_password_hash_round_trip() -> None:
    hashed = hash_password("a long enough secret")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "a long enough secret")
    assert not verify_password(hashed, "wrong")
    assert not verify_password(None, "a long enough secret")
    with pytest.raises(ValueError, match="8 characters"):
        hash_password("short")


def test_tokens_issue_validate_expire_and_rotate() -> None:
    clock = Clock(1_000_000.0)
    old_key, new_key = Fernet.generate_key(), Fernet.generate_key()
    provider = TokenProvider([old_key], 86400, clock)
    token, claims = provider.issue("u1", "p1", ["password"])
    assert provider.validate(token) == claims
    assert (claims.expires_at - claims.issued_at).total_seconds() == 86400

    provider.replace_keys([new_key, old_key])  # rotation: old tokens stay valid
    assert provider.validate(token).user_id == "u1"
    provider.replace_keys([new_key])  # old key retired: old tokens fail
    with pytest.raises(errors.AuthenticationFailed):
        provider.validate(token)

    fresh, _ = provider.issue("u1", "p1", ["password"])
    clock.now += 86400
    with pytest.raises(errors.TokenExpired):
        provider.validate(fresh)


def test_opened_tokens_are_cached_yet_still_expire_and_follow_key_changes() -> None:
    clock = Clock(2_000_000.0)
    key = Fernet.generate_key()
    provider = TokenProvider([key], 60, clock)
    token, claims = provider.issue("u1", "p1", ["password"])
    assert provider.validate(token) == provider.validate(token) == claims  # the second from the cache
    clock.now += 61
    with pytest.raises(errors.TokenExpired):
        provider.validate(token)  # expiry is checked on every use, cached or not
    clock.now -= 61
    provider.replace_keys([Fernet.generate_key()])  # the key that signed it is gone
    with pytest.raises(errors.AuthenticationFailed):
        provider.validate(token)


@pytest.mark.parametrize("forged", ["", "abc", "gAAAAA" + "x" * 100, "é" * 40, "gAAAAABnotbase64!!"])
def test_forged_tokens_are_refused(forged: str) -> None:
    provider = TokenProvider([Fernet.generate_key()], 3600, Clock(0))
    with pytest.raises(errors.AuthenticationFailed) as caught:
        provider.validate(forged)
    assert caught.value.detail == errors.AuthenticationFailed.DECRYPT_FAIL


def test_altered_token_is_refused() -> None:
    provider = TokenProvider([Fernet.generate_key()], 3600, Clock(5_000_000))
    token, _ = provider.issue("u1", "p1", ["password"])
    for position in (10, len(token) // 2, len(token) - 5):
        flipped = "A" if token[position] != "A" else "B"
        with pytest.raises(errors.AuthenticationFailed):
            provider.validate(token[:position] + flipped + token[position + 1 :])


def test_token_provider_refuses_to_start_without_keys() -> None:
    with pytest.raises(NoTokenKeys):
        TokenProvider([], 3600, Clock(0))


# -- body parsing ---------------------------------------------------------------------------------
def delete_processes_body(body: bytes, content_type: str | None) -> list[int]:
    return parse_body(DeleteTaurusDbNodeProcessesRequest, body, content_type).processes


def test_delete_body_accepts_valid_ids() -> None:
    assert delete_processes_body(b'{"processes": [1, 2, 9223372036854775807]}', "application/json") == [
        1,
        2,
        2**63 - 1,
    ]
    assert delete_processes_body(b'{"processes": [0], "extra": true}', None) == [0]
    assert delete_processes_body(b'{"processes": [5]}', "application/json;charset=utf-8") == [5]
    assert delete_processes_body(b'{"processes": [5]}', "Application/JSON; charset=UTF-8") == [5]


@pytest.mark.parametrize(
    "body",
    [
        b'{"processes": []}',
        b'{"processes": [1.0]}',
        b'{"processes": [true]}',
        b'{"processes": ["1"]}',
        b'{"processes": [null]}',
        b'{"processes": [[1]]}',
        b'{"processes": [-1]}',
        b'{"processes": [9223372036854775808]}',
        b'{"processes": 1}',
        b'{"processes": null}',
        b'{"process": [1]}',
        b"{}",
        b"[1, 2]",
        b'"text"',
        b"{not json",
        b'{"processes": [' + b",".join(b"1" for _ in range(21)) + b"]}",
    ],
)
def test_delete_body_parameter_errors(body: bytes) -> None:
    with pytest.raises(errors.ParameterError):
        delete_processes_body(body, "application/json")


@pytest.mark.parametrize("body", [b"", b"   ", b"\n"])
def test_empty_body_is_its_own_error(body: bytes) -> None:
    with pytest.raises(errors.EmptyRequest):
        delete_processes_body(body, "application/json")


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data; boundary=x"])
def test_other_media_types_are_refused(content_type: str) -> None:
    with pytest.raises(errors.ParameterError):
        delete_processes_body(b'{"processes": [1]}', content_type)


# -- SQL fragments --------------------------------------------------------------------------------
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
