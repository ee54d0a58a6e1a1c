"""Node failures, translated at the driver seam so nothing above sees asyncmy or bare errnos."""

from __future__ import annotations

# Server error numbers we act on, by name (MySQL/MariaDB share them).
ER_NO_SUCH_THREAD = 1094
ER_KILL_DENIED_ERROR = 1095
ER_NO_SUCH_QUERY = 1957  # MariaDB: KILL QUERY ID of a statement that has ended
ER_SPECIFIC_ACCESS_DENIED_ERROR = 1227
ER_DBACCESS_DENIED_ERROR = 1044
ER_ACCESS_DENIED_ERROR = 1045
ER_TABLEACCESS_DENIED_ERROR = 1142
ER_UNKNOWN_TABLE = 1109
ER_NO_SUCH_TABLE = 1146


class NodeError(Exception):
    """The node could not be used: unreachable, too slow, or it answered with an unexpected error."""


class NodeUnreachable(NodeError):
    """Connecting failed or timed out, or the node failed a moment ago (cool-down)."""


class NodeLoginRefused(NodeUnreachable):
    """The server refused the account or its password (error 1045)."""


class NodeTimeout(NodeError):
    """Connected, but the node did not answer within the read timeout."""


class NodeQueryFailed(NodeError):
    """The node answered a statement with an error we do not expect (e.g. missing privilege)."""

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno
