"""Waiting for what happens on its own time (a node, another process) by asking again, never by a
fixed sleep: a test waits as long as the thing takes, and fails with a message when it never comes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll(check: Callable[[], T | None], *, timeout: float, interval: float = 0.05) -> T | None:
    """Call ``check`` until it returns something truthy or ``timeout`` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def eventually(
    check: Callable[[], T | None],
    timeout: float = 10.0,
    message: str | Callable[[], str] = "the condition",
    *,
    interval: float = 0.05,
) -> T:
    """``check``'s first truthy value; AssertionError naming ``message`` (what was awaited, or a
    function saying it when the wait fails, e.g. with the end of a log) if none comes in ``timeout`` s."""
    value = poll(check, timeout=timeout, interval=interval)
    if not value:
        what = message if isinstance(message, str) else message()
        raise AssertionError(f"gave up after {timeout:g} s waiting for {what} (last: {value!r})")
    return value
