"""One typed settings object, read from ``TAURUS_*`` environment variables (or a ``.env`` file).

It fails loudly: a missing master key or a nonsensical timeout stops the process at start-up
rather than at the first request. Secrets are ``SecretStr`` so their repr is masked.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from taurus_sessions.file_modes import sqlite_files

DEFAULT_SYSTEM_ACCOUNTS = ("rdsAdmin", "rdsRepl", "rdsBackup", "rdsMetric", "rdsProxy")


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "taurus-sessions"


class Settings(BaseSettings):
    # No .env file is read unless TAURUS_ENV_FILE names one (see ``load``): a file that happens to
    # lie in the working directory must not reconfigure the service.
    model_config = SettingsConfigDict(env_prefix="TAURUS_", env_file=None, extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy async URL of the inventory (may hold a password); default: SQLite file.",
    )
    master_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated Fernet keys; the first encrypts, all decrypt (rotation).",
    )
    master_key_file: Path | None = Field(
        default=None, description="File holding the master keys; default: data_dir/master.key."
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # Trust X-Forwarded-For only from these proxy networks (empty: use the peer address).
    trusted_proxies: list[str] = Field(default_factory=list)
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Names the Host header may carry (any port); default: the listen address, "
        "localhost and the loopback addresses. '*.example.com' and '*' are allowed.",
    )

    token_ttl_seconds: int = Field(default=24 * 3600, ge=60, le=7 * 24 * 3600)
    token_key_refresh_seconds: float = Field(default=30.0, gt=0)
    inventory_cache_seconds: float = Field(default=2.0, ge=0)
    inventory_timeout: float = Field(
        default=10.0, gt=0, le=300, description="Seconds an inventory statement (or its lock wait) may take."
    )
    revocation_refresh_seconds: float = Field(
        default=2.0, gt=0, description="How soon a token signed out on another replica is refused here."
    )

    node_connect_timeout: float = Field(default=3.0, gt=0, le=60)
    node_read_timeout: float = Field(default=5.0, gt=0, le=300)
    node_pool_size: int = Field(default=4, ge=1, le=64)
    node_pool_idle_seconds: float = Field(default=60.0, gt=0)
    node_max_open_pools: int = Field(default=256, ge=1)
    node_max_idle_connections: int = Field(
        default=64, ge=1, description="Idle node connections kept process-wide (each holds a read buffer)."
    )
    node_failure_cooldown_seconds: float = Field(
        default=2.0, ge=0, description="After a node fails, answer at once for this long."
    )

    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    kill_max_ids: int = Field(
        default=20, ge=1, le=10000, description="Cap on ids per extension kill call (faithful API: 20)."
    )
    kill_max_victims: int = Field(default=10000, ge=1, description="Cap on victims of one kill by filter.")

    rate_limit_per_second: float = Field(
        default=100.0, ge=0, description="Requests per second per caller; 0 turns throttling off."
    )
    rate_limit_burst: int = Field(default=200, ge=1)
    # Throttles a stranger meets before any work is done for them (0 turns each off).
    source_rate_limit_per_second: float = Field(
        default=200.0, ge=0, description="Requests per second per source address, before authentication."
    )
    source_rate_limit_burst: int = Field(default=400, ge=1)
    auth_failures_per_second: float = Field(
        default=1.0, ge=0, description="Failed authentications a source address may keep making per second."
    )
    auth_failure_burst: int = Field(default=20, ge=1)
    login_per_second: float = Field(
        default=0.5, ge=0, description="Token requests per second per source address."
    )
    login_burst: int = Field(default=10, ge=1)
    login_account_failures_per_second: float = Field(
        default=0.1, ge=0, description="Wrong passwords per second per account (from unknown addresses)."
    )
    login_account_failure_burst: int = Field(default=5, ge=1)
    password_queue_limit: int = Field(
        default=8, ge=1, description="Password checks waiting for a hashing slot before 429."
    )

    ak_failure_limit: int = Field(default=5, ge=1)
    ak_lock_seconds: int = Field(default=300, ge=1)
    signature_clock_skew_seconds: int = Field(default=15 * 60, ge=1)

    download_link_seconds: int = Field(
        default=3600, ge=1, description="How long a download link (intelligent kill history) works."
    )
    realtime_session_result_seconds: int = Field(
        default=3600,
        ge=1,
        le=30 * 24 * 3600,
        description="How long a realtime session collection's file can be downloaded.",
    )
    realtime_session_max_running: int = Field(
        default=4, ge=1, le=1000, description="Realtime session collections running at once per project."
    )
    realtime_session_max_results: int = Field(
        default=100,
        ge=1,
        le=100_000,
        description="Realtime session collections kept (not yet expired) per project.",
    )
    realtime_session_max_rows: int = Field(
        default=100_000, ge=1, le=1_000_000, description="Sessions in one collection's file, at most."
    )
    task_poll_seconds: float = Field(default=1.0, gt=0)
    task_lease_seconds: float = Field(
        default=30.0, gt=0, description="A task whose runner stopped renewing is taken over after this."
    )

    limiting_minute_seconds: float = Field(
        default=60.0,
        gt=0,
        le=60,
        description="Seconds in one minute of auto SQL limiting's rules (duration, clear_time). "
        "Below 60 only for tests and the demo: the service warns at start and says so in its answers.",
    )
    limiting_check_seconds: float = Field(
        default=1.0, gt=0, le=60, description="How often a node with auto SQL limiting is checked."
    )
    limiting_time_zone: str = Field(
        default="",
        description="IANA time zone of the rules' daily windows (start_time, end_time); "
        "default: the service's local time.",
    )

    ssl_certfile: Path | None = Field(
        default=None, description="Serve HTTPS with this certificate (PEM; the chain after the leaf)."
    )
    ssl_keyfile: Path | None = Field(
        default=None, description="The certificate's private key (PEM); must be readable by its owner only."
    )
    workers: int = Field(
        default=1, ge=1, le=64, description="Service processes on one port (throttle budgets are shared out)."
    )
    metrics_allow: list[str] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"],
        description="Networks whose addresses may read /metrics (others get 404).",
    )

    log_level: str = "INFO"
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", description="auto: readable text on a terminal, JSON lines otherwise."
    )

    @classmethod
    def load(cls) -> Settings:
        """From the environment, and from the .env-style file TAURUS_ENV_FILE names, if any."""
        env_file = os.environ.get("TAURUS_ENV_FILE") or None
        return cls(_env_file=env_file)

    @field_validator("trusted_proxies", "metrics_allow")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise ValueError(f"{network!r} is not an address or network") from exc
        return value

    @field_validator("ssl_certfile", "ssl_keyfile", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        return None if value == "" else value  # TAURUS_SSL_KEYFILE= means none, not "."

    @field_validator("limiting_time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"limiting_time_zone: {value!r} is not an IANA time zone") from None
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("log_level must be DEBUG, INFO, WARNING or ERROR")
        return value

    @model_validator(mode="after")
    def _timeouts_fit(self) -> Settings:
        if self.node_connect_timeout > self.node_read_timeout * 4:
            raise ValueError("node_connect_timeout is far above node_read_timeout; check the units")
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("ssl_certfile and ssl_keyfile go together")
        return self

    @property
    def inventory_url(self) -> str:
        if self.database_url is not None and self.database_url.get_secret_value():
            return self.database_url.get_secret_value()
        return f"sqlite+aiosqlite:///{self.data_dir / 'inventory.db'}"

    @property
    def resolved_master_key_file(self) -> Path:
        return self.master_key_file or (self.data_dir / "master.key")

    @property
    def sqlite_path(self) -> Path | None:
        """The inventory's file when the inventory is SQLite."""
        scheme, _, path = self.inventory_url.partition(":///")
        return Path(path) if scheme.startswith("sqlite") and path and path != ":memory:" else None

    @property
    def private_paths(self) -> list[Path]:
        """What must be readable by the service's user only: the data folder, the master key file,
        the SQLite inventory and its journal files."""
        paths = [self.data_dir]
        if self.master_keys is None:
            paths.append(self.resolved_master_key_file)
        if self.sqlite_path is not None:
            paths.extend(sqlite_files(self.sqlite_path))
        if self.ssl_keyfile is not None:
            paths.append(self.ssl_keyfile)
        return paths
