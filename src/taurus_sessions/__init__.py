"""taurus-sessions: the Huawei Cloud TaurusDB session API, self-hosted, for MySQL-family nodes."""

__version__ = "0.1.0"
