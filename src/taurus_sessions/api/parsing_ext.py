"""Parsing of the extension bodies (kill with reasons, kill by filter, kill tasks).

The same strictness as the faithful API: every field has one type, unknown keys are ignored,
anything else is ``DBS.200001`` with a detail naming the field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from taurus_sessions.api.parsing import json_object, thread_id
from taurus_sessions.domain import KillMode, ThreadFilter, VictimChoice
from taurus_sessions.errors import ParameterError
from taurus_sessions.services.kill_decision import Expectation
from taurus_sessions.services.kill_tasks import KillTaskSpec

T = TypeVar("T")
MAX_TEXT = 1024

_FILTER_TEXT = ("user", "host", "db", "command", "state", "info")
_EXPECT_TEXT = ("user", "host", "db", "command", "info")


def _text(document: dict[str, Any], key: str, where: str, max_length: int = MAX_TEXT) -> str | None:
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise ParameterError(f"{where}{key} must be a non-empty string of at most {max_length} characters")
    return value


def _bool(document: dict[str, Any], key: str, default: bool = False) -> bool:
    value = document.get(key, default)
    if not isinstance(value, bool):
        raise ParameterError(f"{key} must be true or false")
    return value


def _int(document: dict[str, Any], key: str, low: int, high: int, default: int | None) -> int | None:
    value = document.get(key, default)
    if value is None:
        return None
    if type(value) is not int or not low <= value <= high:
        raise ParameterError(f"{key} must be an integer from {low} to {high}")
    return value


def _count(document: dict[str, Any], key: str, low: int, high: int, default: int) -> int:
    value = _int(document, key, low, high, default)
    return default if value is None else value


def _choice(document: dict[str, Any], key: str, parse: Callable[[str], T], default: T) -> T:
    value = document.get(key)
    if value is None:
        return default
    try:
        return parse(value)
    except (ValueError, TypeError) as exc:
        raise ParameterError(f"{key} has an unknown value") from exc


def kill_mode(document: dict[str, Any]) -> KillMode:
    return _choice(document, "mode", KillMode, KillMode.CONNECTION)


def thread_filter(value: Any, *, require_criterion: bool) -> ThreadFilter:
    if not isinstance(value, dict):
        raise ParameterError("filter must be a JSON object")
    texts = {key: _text(value, key, "filter.") for key in _FILTER_TEXT}
    min_time = _int(value, "min_time", 0, 10**9, None)
    idle = value.get("idle_in_trx", False)
    if not isinstance(idle, bool):
        raise ParameterError("filter.idle_in_trx must be true or false")
    flt = ThreadFilter(**texts, min_time=min_time, idle_in_trx=idle)
    if require_criterion and flt.is_empty:
        # Killing "everything" must be spelled out: at least one criterion, as pt-kill requires.
        raise ParameterError("filter needs at least one criterion")
    return flt


@dataclass(frozen=True, slots=True)
class KillWithReasons:
    ids: list[int]
    expectations: dict[int, Expectation] = field(default_factory=dict)
    mode: KillMode = KillMode.CONNECTION
    dry_run: bool = False


def kill_with_reasons(body: bytes, content_type: str | None, max_ids: int) -> KillWithReasons:
    document = json_object(body, content_type)
    items = document.get("processes")
    if not isinstance(items, list):
        raise ParameterError("processes must be an array")
    ids: list[int] = []
    expectations: dict[int, Expectation] = {}
    if not 1 <= len(items) <= max_ids:
        raise ParameterError(f"processes must hold 1 to {max_ids} ids")
    for index, item in enumerate(items):
        if isinstance(item, dict):
            where = f"processes[{index}]."
            ident = thread_id(item.get("id"), f"processes[{index}].id")
            expected = {key: _text(item, key, where) for key in _EXPECT_TEXT}
            expectations[ident] = Expectation(**expected)
            ids.append(ident)
        else:
            ids.append(thread_id(item, f"processes[{index}]"))
    return KillWithReasons(ids, expectations, kill_mode(document), _bool(document, "dry_run"))


@dataclass(frozen=True, slots=True)
class KillByFilter:
    filter: ThreadFilter
    mode: KillMode
    victims: VictimChoice
    max_victims: int
    dry_run: bool


def kill_by_filter(body: bytes, content_type: str | None, cap: int) -> KillByFilter:
    document = json_object(body, content_type)
    return KillByFilter(
        filter=thread_filter(document.get("filter"), require_criterion=True),
        mode=kill_mode(document),
        victims=_choice(document, "victims", VictimChoice, VictimChoice.ALL),
        max_victims=_count(document, "max_victims", 1, cap, cap),
        dry_run=_bool(document, "dry_run"),
    )


MAX_TASK_SECONDS = 30 * 24 * 3600


def kill_task_spec(body: bytes, content_type: str | None, cap: int) -> KillTaskSpec:
    document = json_object(body, content_type)
    name = _text(document, "name", "", 64) or ""
    interval = _count(document, "interval_seconds", 1, 3600, 5)
    if "duration_seconds" in document and document["duration_seconds"] is None:
        duration = None  # until stopped
    else:
        duration = _int(document, "duration_seconds", 1, MAX_TASK_SECONDS, 600)
    per_pass = _count(document, "max_victims_per_pass", 1, cap, min(100, cap))
    return KillTaskSpec(
        name=name,
        filter=thread_filter(document.get("filter"), require_criterion=True),
        mode=kill_mode(document),
        victims=_choice(document, "victims", VictimChoice, VictimChoice.ALL),
        interval_seconds=interval,
        duration_seconds=duration,
        max_victims_per_pass=per_pass,
    )
