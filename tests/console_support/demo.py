"""What the console tests need beyond the shared demo fixture: who is internal, app sessions, waiting."""

from __future__ import annotations

import time
from collections.abc import Callable

from support.demo import Demo
from support.sessions import Session, Sessions

INTERNAL_USERS = ("rdsAdmin", "rdsRepl", "rdsBackup", "rdsMetric", "event_scheduler", "system user")


class AppSessions(Sessions):
    """Sessions of the demo's application account, closed at the end of a test."""

    def __init__(self, demo: Demo) -> None:
        super().__init__()
        self.demo = demo

    def open_app(self, role: str = "master") -> Session:
        return self.add(self.demo.session(role))


def wait_until(check: Callable[[], bool], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
