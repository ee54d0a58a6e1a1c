"""The published OpenAPI document: valid, every reference resolved, the id patterns declared — and a
property-based fuzzing run (Schemathesis) over every operation it describes, against a service on a
node of its own: no 5xx, every answer as documented, and the node's internal threads untouched."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok

from conftest import World
from support.client import Api
from support.personas import ADMIN
from support.service import ServiceProcess
from support.sessions import Sessions
from taurus_sessions.sandbox.instance import SandboxInstance
from taurus_sessions.sandbox.registration import Registration, create_user, register_instance

PASSWORD = "correct horse battery staple"


def test_the_document_is_valid_and_every_reference_resolves(world: World) -> None:
    document = world.api.http.get("/openapi.json").json()
    validate(document)  # raises on an invalid document or a $ref that does not resolve
    text = str(document)
    assert "#/$defs/" not in text
    for path, operations in document["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"].endswith("_id"):
                    assert "pattern" in parameter["schema"], (path, parameter["name"])
            assert "422" not in operation["responses"], path  # invalid input is the catalogue's 400
    schemas = document["components"]["schemas"]
    bodies = ("DeleteTaurusDbNodeProcessesRequest", "KillNodeProcessesRequest", "CreateKillTaskRequest")
    das_bodies = ("RegisterDbUserRequestBody", "UpdateDbUserRequestBody", "DeleteProcessReqBody")
    for body in (*bodies, *das_bodies):
        assert body in schemas
    node = document["paths"]["/v3/{project_id}/instances/{instance_id}/nodes/{node_id}/processes"]
    ids = {p["name"]: p["schema"]["pattern"] for p in node["get"]["parameters"] if p["in"] == "path"}
    assert ids["node_id"] == "^[A-Za-z0-9]{32}no07$" and ids["instance_id"] == "^[A-Za-z0-9]{32}in07$"


@dataclass
class FuzzTarget:
    node: SandboxInstance
    service: ServiceProcess
    main: Registration
    token: str


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    """A node and a service of their own: whatever the fuzzer kills, and every kill task it starts,
    stays there."""
    node = SandboxInstance.start(tmp_path_factory.mktemp("fuzz-node"), with_replica=False)
    service = ServiceProcess(tmp_path_factory.mktemp("fuzz-service"))

    async def populate(inventory: Any) -> Registration:
        main = await register_instance(inventory, node, project_name="fuzz-1", domain="fuzz")
        await create_user(inventory, "fuzz", "alice", PASSWORD, main.project_id, "admin")
        return main

    main = service.inventory(populate)
    service.start()
    api = Api(service.url)
    token = api.token("alice", PASSWORD, "fuzz", project_id=main.project_id)
    api.close()
    yield FuzzTarget(node, service, main, token)
    service.stop()
    node.stop()


# Enough cases per operation and mode for about a minute in all on two cores.
EXAMPLES = {"deep": 80, "random": 30, "negative": 30}
# The suite replays the same cases every run (a red build means a change broke something, not that
# the dice found an old bug); TAURUS_FUZZ_EXPLORE=1 draws new ones, as a developer should now and then.
EXPLORE = bool(os.environ.get("TAURUS_FUZZ_EXPLORE"))


def _fuzz(strategy: Any, count: int, exercise: Any) -> None:
    @settings(
        max_examples=count,
        derandomize=not EXPLORE,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        exercise(case)

    run()


def test_fuzzing_every_operation_finds_no_server_error(fuzz_target: FuzzTarget, sessions: Sessions) -> None:
    target = fuzz_target
    metric = target.node.accounts["rdsMetric"]
    watcher = sessions.open(target.node.primary, metric.user, metric.password)  # an internal thread
    schema = schemathesis.openapi.from_url(target.service.url + "/openapi.json")
    real_ids = {
        "project_id": target.main.project_id,
        "instance_id": target.main.instance_id,
        "node_id": target.main.primary.node_id,
    }
    auth = {"X-Auth-Token": target.token}
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    cases: Counter[str] = Counter()
    statuses: Counter[int] = Counter()

    def _exercise(case: Any, label: str) -> None:
        response = case.call(base_url=target.service.url, headers=auth, timeout=30)
        cases[label] += 1
        statuses[response.status_code] += 1
        case.validate_response(response, checks=checks)

    started = time.monotonic()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        names = {p.name for p in operation.path_parameters}
        for flavour, count in EXAMPLES.items():
            mode = GenerationMode.NEGATIVE if flavour == "negative" else GenerationMode.POSITIVE
            fixed = {k: v for k, v in real_ids.items() if k in names} if flavour == "deep" else None
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed or None)

            try:
                _fuzz(strategy, count, lambda case, label=operation.label: _exercise(case, label))
            except Unsatisfiable:
                # nothing the operation takes can be made invalid (no parameters, no body)
                assert mode is GenerationMode.NEGATIVE, operation.label
    elapsed = time.monotonic() - started
    total = sum(cases.values())
    print(
        f"\nfuzzing: {total} cases over {len(cases)} operations in {elapsed:.0f} s; statuses {dict(statuses)}"
    )
    assert not [status for status in statuses if status >= 500]
    assert len(cases) >= 25 and total >= 500
    assert sum(count for label, count in cases.items() if "/db-users" in label or "-locks" in label) >= 100
    # the node's internal threads are all alive: ours, the service's, the server's own
    assert watcher.alive()
    users = {
        str(row[0]) for row in target.node.primary.sql("SELECT USER FROM information_schema.PROCESSLIST")
    }
    assert {"rdsMetric", "rdsAdmin"} <= users or {"rdsMetric"} <= users
    assert httpx.get(target.service.url + "/openapi.json").status_code == 200  # and the service is up


def test_filters_with_characters_beyond_utf8mb3_are_answered(world: World) -> None:
    """Found by the fuzzer: MariaDB's processlist columns are utf8mb3, and comparing them with a
    pattern holding a 4-byte character was an "illegal mix of collations" (a 500)."""
    token = world.token(ADMIN)
    for name in ("host", "db", "command", "state", "info", "user"):
        response = world.api.list(token, world.path(), **{name: "\U0001d07c\U0001f600"})
        assert response.status_code == 200, (name, response.text)
        assert response.json()["total_count"] == 0


def test_the_fuzz_target_shares_nothing_with_the_other_tests(fuzz_target: FuzzTarget, world: World) -> None:
    assert fuzz_target.node.primary.port not in {s.port for s in world.sandbox.servers}
    assert Path(fuzz_target.service.folder) != Path(world.service.folder)
