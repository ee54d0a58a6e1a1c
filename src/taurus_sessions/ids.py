"""Identifier formats of the faithful API (contract Part A) and generators for new ones."""

from __future__ import annotations

import re
import secrets

from taurus_sessions.errors import BadInstanceOrNodeId, ParameterError

PROJECT_ID_PATTERN = "^[A-Za-z0-9]{1,64}$"
INSTANCE_ID_PATTERN = "^[A-Za-z0-9]{32}in07$"
NODE_ID_PATTERN = "^[A-Za-z0-9]{32}no07$"
_PROJECT_ID = re.compile(PROJECT_ID_PATTERN)
_INSTANCE_ID = re.compile(INSTANCE_ID_PATTERN)
_NODE_ID = re.compile(NODE_ID_PATTERN)

MAX_THREAD_ID = 2**63 - 1


def is_project_id(value: str) -> bool:
    return _PROJECT_ID.fullmatch(value) is not None


def check_project_id(value: str) -> str:
    if not _PROJECT_ID.fullmatch(value):
        raise ParameterError("project_id must be 1 to 64 letters or digits")
    return value


def check_instance_id(value: str) -> str:
    if not _INSTANCE_ID.fullmatch(value):
        raise BadInstanceOrNodeId("instance_id must be 32 letters or digits followed by in07")
    return value


def check_node_id(value: str) -> str:
    if not _NODE_ID.fullmatch(value):
        raise BadInstanceOrNodeId("node_id must be 32 letters or digits followed by no07")
    return value


def new_project_id() -> str:
    return secrets.token_hex(16)


def new_instance_id() -> str:
    return secrets.token_hex(16) + "in07"


def new_node_id() -> str:
    return secrets.token_hex(16) + "no07"


def new_user_id() -> str:
    return secrets.token_hex(16)


# DAS (contract Part G) documents its instance ids as 32 letters or digits; ours carry the in07
# suffix. Either form is accepted (only ours exist here); a db_user_id is a UUID.
DAS_INSTANCE_ID_PATTERN = "^[A-Za-z0-9]{32}(in07)?$"
DB_USER_ID_PATTERN = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
_DAS_INSTANCE_ID = re.compile(DAS_INSTANCE_ID_PATTERN)
_DB_USER_ID = re.compile(DB_USER_ID_PATTERN)


def is_das_instance_id(value: str) -> bool:
    return _DAS_INSTANCE_ID.fullmatch(value) is not None


def is_db_user_id(value: str) -> bool:
    return _DB_USER_ID.fullmatch(value) is not None
