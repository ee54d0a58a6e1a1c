"""The statements of the raw references.

Where a reference does the same work as the service, it sends the very SQL the service sends (built
by the service's own ``nodes.sql`` module with the same internal-thread rule), so the node does the
same work on both sides and the ratio isolates what the service adds around it.
"""

from __future__ import annotations

from collections.abc import Sequence

from taurus_sessions.domain import ListQuery
from taurus_sessions.nodes import dialects, sql
from taurus_sessions.nodes.fragments import Fragment
from taurus_sessions.settings import DEFAULT_SYSTEM_ACCOUNTS

# What a DBA reads before killing by hand: the columns the service reports, nothing more.
PLAIN_BY_USER = (
    "SELECT ID, USER, HOST, DB, COMMAND, TIME, STATE, INFO "
    "FROM information_schema.PROCESSLIST WHERE USER = %s"
)


def internal_rule(admin_user: str) -> sql.InternalRule:
    """The rule the service builds for a MariaDB node registered with this admin account."""
    return sql.InternalRule(dialects.MARIADB, (*DEFAULT_SYSTEM_ACCOUNTS, admin_user))


def list_page(rule: sql.InternalRule, limit: int = 100) -> Fragment:
    return sql.list_page(rule, ListQuery(offset=0, limit=limit))


def threads_by_id(rule: sql.InternalRule, ids: Sequence[int]) -> Fragment:
    return sql.threads_by_id(rule, ids)


def kill_connection(thread_id: int) -> str:
    return f"KILL CONNECTION {int(thread_id):d}"
