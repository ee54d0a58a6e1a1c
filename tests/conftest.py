"""Fixtures: real MariaDB nodes (primary + replicating replica), the service as a real process
(``world``), and the same app inside the test process with a clock the test moves (``in_process``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from support.client import Api
from support.inprocess import InProcessWorld, create_inventory
from support.service import ServiceProcess
from support.sessions import Session, Sessions
from support.world import Deployment, populate
from taurus_sessions.sandbox.instance import APP_DATABASE, Account, SandboxInstance
from taurus_sessions.sandbox.registration import Registration

# Property tests replay the same cases every run, so a red build means a change broke something,
# not that the dice found an old bug; TAURUS_FUZZ_EXPLORE=1 draws new ones, as a developer should
# now and then (and then pins what they find as an explicit case).
settings.register_profile("replay", derandomize=True, database=None)
settings.register_profile("explore")
settings.load_profile("explore" if os.environ.get("TAURUS_FUZZ_EXPLORE") else "replay")

# The console tests' browser, page and app-session fixtures (each console module brings its demo).
pytest_plugins = ["console_support.fixtures"]


class World(Deployment):
    """The service as a real process (``taurus-sessions serve``), shared by the whole run."""

    def __init__(
        self,
        sandbox: SandboxInstance,
        service: ServiceProcess,
        api: Api,
        main: Registration,
        other: Registration,
    ) -> None:
        super().__init__(sandbox, api, main, other)
        self.service = service


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxInstance]:
    instance = SandboxInstance.start(tmp_path_factory.mktemp("nodes"))
    yield instance
    instance.stop()


@pytest.fixture(scope="session")
def world(sandbox: SandboxInstance, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    service = ServiceProcess(tmp_path_factory.mktemp("service"))
    main, other = service.inventory(lambda inv: populate(inv, sandbox))
    service.start()
    api = Api(service.url)
    yield World(sandbox, service, api, main, other)
    api.close()
    service.stop()


@dataclass(frozen=True)
class InventoryTemplate:
    folder: Path
    main: Registration
    other: Registration


@pytest.fixture(scope="session")
def inventory_template(
    sandbox: SandboxInstance, tmp_path_factory: pytest.TempPathFactory
) -> InventoryTemplate:
    """A populated inventory made once; every in-process service starts from a copy of it."""
    folder = tmp_path_factory.mktemp("inventory-template")
    main, other = create_inventory(folder, sandbox)
    return InventoryTemplate(folder, main, other)


@pytest.fixture
def start_in_process(
    sandbox: SandboxInstance, inventory_template: InventoryTemplate, tmp_path: Path
) -> Iterator[Callable[..., InProcessWorld]]:
    """Starts the app in this process on its own copy of the inventory; settings as keyword
    arguments (``rate_limit_per_second=1``…) on top of those of the test service process."""
    started: list[InProcessWorld] = []

    def start(**settings: Any) -> InProcessWorld:
        folder = tmp_path / f"in-process-{len(started)}"
        shutil.copytree(inventory_template.folder, folder)
        deployment = InProcessWorld(
            sandbox, folder, inventory_template.main, inventory_template.other, **settings
        )
        started.append(deployment)
        return deployment

    yield start
    for deployment in started:
        deployment.close()


@pytest.fixture
def in_process(start_in_process: Callable[..., InProcessWorld]) -> InProcessWorld:
    """The app in this process, set as the test service process is, on a fake clock (support/inprocess.py)."""
    return start_in_process()


@pytest.fixture(scope="session")
def metric_session(sandbox: SandboxInstance) -> Iterator[Session]:
    """A long-lived rdsMetric connection, as TaurusDB's monitoring agent keeps one."""
    holder = Sessions()
    metric = sandbox.accounts["rdsMetric"]
    session = holder.open(sandbox.primary, metric.user, metric.password)
    session.execute("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
    yield session
    holder.close_all()


@pytest.fixture(scope="session")
def reporter(sandbox: SandboxInstance) -> Account:
    """A second application account (read-only), so filters have sessions not to match."""
    account = Account("reporter", "reporter-password-1")
    sandbox.primary.sql(
        f"CREATE USER IF NOT EXISTS '{account.user}'@'%' IDENTIFIED BY '{account.password}';\n"
        f"GRANT SELECT ON {APP_DATABASE}.* TO '{account.user}'@'%';"
    )
    sandbox.wait_replica_caught_up()
    return account


@pytest.fixture
def sessions() -> Iterator[Sessions]:
    opened = Sessions()
    yield opened
    opened.close_all()


@pytest.fixture
def app_session(sandbox: SandboxInstance, sessions: Sessions) -> Session:
    return sessions.open(sandbox.primary, sandbox.app.user, sandbox.app.password, APP_DATABASE)


def open_app_sessions(
    sandbox: SandboxInstance, sessions: Sessions, count: int, replica: bool = False
) -> list[Session]:
    server = sandbox.replica if replica and sandbox.replica else sandbox.primary
    return [sessions.open(server, sandbox.app.user, sandbox.app.password, APP_DATABASE) for _ in range(count)]


@pytest.fixture
def artifacts() -> Path:
    folder = Path(__file__).resolve().parent.parent / "artifacts"
    folder.mkdir(exist_ok=True)
    return folder
