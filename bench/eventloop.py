"""Every bench process runs on uvloop, the loop uvicorn picks for the service when it is installed,
so both sides of each comparison pay the same event-loop costs."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    return uvloop.run(main)
