"""A TaurusDB-like instance from real MariaDB servers: a primary and a read replica that truly
replicates from it through ``rdsRepl``, the system accounts, an application account and database.
"""

from __future__ import annotations

import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from taurus_sessions.sandbox.mariadb import (
    Binaries,
    MariaDBServer,
    SandboxError,
    ensure_binaries,
    make_template,
)

APP_DATABASE = "shop"


@dataclass(frozen=True)
class Account:
    user: str
    password: str

    def __repr__(self) -> str:
        return f"Account({self.user!r}, password=<hidden>)"


# Grants follow the roles TaurusDB documents for its system accounts.
SYSTEM_GRANTS = {
    "rdsAdmin": "ALL PRIVILEGES ON *.* TO {who} WITH GRANT OPTION",
    "rdsRepl": "REPLICATION SLAVE, BINLOG MONITOR ON *.* TO {who}",
    "rdsBackup": (
        "SELECT, RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SHOW VIEW, EVENT, TRIGGER ON *.* TO {who}"
    ),
    "rdsMetric": "PROCESS, BINLOG MONITOR, SLAVE MONITOR ON *.* TO {who}",
}
APP_USER = "shop_app"
ROOT_USER = "dba"


def _password() -> str:
    return secrets.token_hex(12)


def _create_user(account: Account, grant: str) -> str:
    who = f"'{account.user}'@'%'"
    return f"CREATE USER {who} IDENTIFIED BY '{account.password}';\nGRANT {grant.format(who=who)};\n"


@dataclass
class SandboxInstance:
    folder: Path
    primary: MariaDBServer
    replica: MariaDBServer | None
    accounts: dict[str, Account] = field(default_factory=dict)
    owns_folder: bool = False

    @property
    def admin(self) -> Account:
        return self.accounts["rdsAdmin"]

    @property
    def app(self) -> Account:
        return self.accounts[APP_USER]

    @property
    def root(self) -> Account:
        return self.accounts[ROOT_USER]

    @property
    def servers(self) -> list[MariaDBServer]:
        return [self.primary] + ([self.replica] if self.replica else [])

    @classmethod
    def start(
        cls,
        folder: Path,
        *,
        with_replica: bool = True,
        binaries: Binaries | None = None,
        extra_options: tuple[str, ...] = (),
    ) -> SandboxInstance:
        binaries = binaries or ensure_binaries()
        template = make_template(binaries, folder)
        options = ["--event-scheduler=ON", *extra_options]
        primary = MariaDBServer(binaries, folder / "primary", server_id=1, options=list(options))
        instance = cls(folder, primary, None)
        try:
            primary.start(template)
            instance.accounts = {name: Account(name, _password()) for name in SYSTEM_GRANTS}
            instance.accounts[APP_USER] = Account(APP_USER, _password())
            instance.accounts[ROOT_USER] = Account(ROOT_USER, _password())
            primary.sql(instance._bootstrap_sql())
            if with_replica:
                replica = MariaDBServer(
                    binaries, folder / "replica", server_id=2, options=[*options, "--read-only=ON"]
                )
                instance.replica = replica
                replica.start(template)
                repl = instance.accounts["rdsRepl"]
                replica.sql(
                    f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={primary.port}, "
                    f"MASTER_USER='{repl.user}', MASTER_PASSWORD='{repl.password}', "
                    "MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1;\nSTART SLAVE;"
                )
                instance.wait_replica_caught_up()
        except BaseException:
            instance.stop()
            raise
        return instance

    def _bootstrap_sql(self) -> str:
        parts = [_create_user(self.accounts[name], grant) for name, grant in SYSTEM_GRANTS.items()]
        parts.append(f"CREATE DATABASE {APP_DATABASE};\n")
        parts.append(_create_user(self.app, f"ALL PRIVILEGES ON {APP_DATABASE}.* TO {{who}}"))
        parts.append(_create_user(self.root, "ALL PRIVILEGES ON *.* TO {who} WITH GRANT OPTION"))
        parts.append(
            f"CREATE TABLE {APP_DATABASE}.orders (id INT PRIMARY KEY, customer VARCHAR(64), "
            "amount DECIMAL(10,2)) ENGINE=InnoDB;\n"
            f"INSERT INTO {APP_DATABASE}.orders VALUES (1,'ada',10.00),(2,'brian',20.50),(3,'chen',7.25);\n"
            f"CREATE TABLE {APP_DATABASE}.jobs (id INT PRIMARY KEY, name VARCHAR(64)) ENGINE=InnoDB;\n"
            f"INSERT INTO {APP_DATABASE}.jobs VALUES (1,'nightly report');\n"
        )
        return "".join(parts)

    def wait_replica_caught_up(self, timeout: float = 30.0) -> None:
        """Until the replica runs both replication threads and has applied the primary's changes."""
        if self.replica is None:
            return
        target = self.primary.sql("SELECT @@gtid_binlog_pos")[0][0]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.replica.sql(
                "SELECT (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                "WHERE VARIABLE_NAME='SLAVE_RUNNING'), @@gtid_slave_pos"
            )
            if status and status[0][0] == "ON" and status[0][1] == target:
                return
            time.sleep(0.1)
        raise SandboxError("the replica did not catch up with the primary in time")

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()
        if self.owns_folder:
            shutil.rmtree(self.folder, ignore_errors=True)
