"""The tests' fault proxy (``tests/support/faultproxy.py``), imported from the tests folder: it
stays out of the installed package and has one copy, which its own tests cover."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[2] / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from support.faultproxy import FaultProxy  # noqa: E402

__all__ = ["FaultProxy"]
