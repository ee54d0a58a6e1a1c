"""Named actions and how roles grant them (IAM-style patterns with ``*``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

LIST_INSTANCES = "gaussdb:instance:list"
LIST_PROCESSES = "gaussdb:instance:listProcesses"
DELETE_PROCESSES = "gaussdb:instance:deleteProcesses"
CREATE_KILL_TASK = "gaussdb:killTask:create"
LIST_KILL_TASKS = "gaussdb:killTask:list"
STOP_KILL_TASK = "gaussdb:killTask:stop"
LIST_AUDIT = "gaussdb:audit:list"
# TaurusDB's own names for its Intelligent Diagnosis operations (alias "gaussdb:", as the others).
MODIFY_INSTANCE = "gaussdb:instance:modify"  # automatic kill tasks, the switch, kill-all
SHOW_INTELLIGENT_KILL = "gaussdb:instance:showIntelligentKillSession"
EXECUTE_INTELLIGENT_KILL = "gaussdb:instance:executeIntelligentKillSession"
# Autonomous SQL limiting (IAM actions of SQL limiting: "gaussdbformysql:instance:…SqlFilter…").
SET_SQL_FILTER_RULES = "gaussdb:instance:setSqlFilterRules"
GET_SQL_FILTER_RULE = "gaussdb:instance:getSqlFilterRule"
DELETE_SQL_FILTER_RULES = "gaussdb:instance:deleteSqlFilterRules"
# DAS's "Cloud DBA" operations (contract Part G) under DAS's own service name.
DAS_LIST_DB_USERS = "das:clouddba:listDbUsers"
DAS_MANAGE_DB_USERS = "das:clouddba:manageDbUsers"  # register, update, delete
DAS_LIST_PROCESSES = "das:clouddba:listProcesses"
DAS_KILL_PROCESSES = "das:clouddba:killProcesses"
DAS_LIST_METADATA_LOCKS = "das:clouddba:listMetadataLock"
DAS_LIST_INNODB_LOCKS = "das:clouddba:listInnodbLock"
# Huawei classes all three realtime session operations (collect, status, download) as Read.
GET_REALTIME_SESSION = "gaussdb:instance:getRealtimeSession"

KNOWN_ACTIONS = (
    LIST_INSTANCES,
    LIST_PROCESSES,
    DELETE_PROCESSES,
    CREATE_KILL_TASK,
    LIST_KILL_TASKS,
    STOP_KILL_TASK,
    LIST_AUDIT,
    MODIFY_INSTANCE,
    SHOW_INTELLIGENT_KILL,
    EXECUTE_INTELLIGENT_KILL,
    SET_SQL_FILTER_RULES,
    GET_SQL_FILTER_RULE,
    DELETE_SQL_FILTER_RULES,
    DAS_LIST_DB_USERS,
    DAS_MANAGE_DB_USERS,
    DAS_LIST_PROCESSES,
    DAS_KILL_PROCESSES,
    DAS_LIST_METADATA_LOCKS,
    DAS_LIST_INNODB_LOCKS,
    GET_REALTIME_SESSION,
)

# Built-in roles, written to the inventory at every start so their meaning follows the code.
# Operators add their own beside them with `taurus-sessions role create`.
BUILTIN_ROLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "admin": ("Everything, including kill tasks and the audit trail.", ("gaussdb:*", "das:*")),
    "operator": (
        "List, inspect and kill sessions; run kill tasks and Intelligent Diagnosis; read the audit "
        "trail; DAS's operations.",
        (
            LIST_INSTANCES,
            LIST_PROCESSES,
            DELETE_PROCESSES,
            "gaussdb:killTask:*",
            LIST_AUDIT,
            MODIFY_INSTANCE,
            SHOW_INTELLIGENT_KILL,
            EXECUTE_INTELLIGENT_KILL,
            SET_SQL_FILTER_RULES,
            GET_SQL_FILTER_RULE,
            DELETE_SQL_FILTER_RULES,
            GET_REALTIME_SESSION,
            "das:clouddba:*",
        ),
    ),
    "readonly": (
        "List and inspect sessions, kill tasks, Intelligent Diagnosis and DAS's sessions and locks; "
        "never kill.",
        (
            LIST_INSTANCES,
            LIST_PROCESSES,
            LIST_KILL_TASKS,
            SHOW_INTELLIGENT_KILL,
            GET_SQL_FILTER_RULE,
            GET_REALTIME_SESSION,
            "das:clouddba:list*",
        ),
    ),
    "auditor": ("Read the audit trail only.", (LIST_AUDIT,)),
}

# Huawei names the same service both ways; a role may use either.
_ALIASES = {"gaussdbformysql:": "gaussdb:"}


def normalize(action: str) -> str:
    lowered = action.strip().lower()
    for alias, canonical in _ALIASES.items():
        if lowered.startswith(alias):
            return canonical + lowered[len(alias) :]
    return lowered


@lru_cache(maxsize=1024)
def _pattern(pattern: str) -> re.Pattern[str]:
    parts = (re.escape(part) for part in normalize(pattern).split("*"))
    return re.compile(".*".join(parts))


def allows(patterns: Iterable[str], action: str) -> bool:
    wanted = normalize(action)
    return any(_pattern(pattern).fullmatch(wanted) for pattern in patterns)


def valid_pattern(pattern: str) -> bool:
    """A role's action pattern: service:resource:verb with letters, digits and ``*``."""
    return re.fullmatch(r"[A-Za-z0-9*]+(:[A-Za-z0-9*]+){0,2}", pattern.strip()) is not None
