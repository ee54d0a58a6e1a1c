"""What the console tests need beyond the shared demo fixture: who is internal, app sessions."""

from __future__ import annotations

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
