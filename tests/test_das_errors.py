"""Every DAS error the operations answer, through the official DAS SDK's exceptions (status, code,
the catalogue's text in the language asked for, the request id), in English and Chinese."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from huaweicloudsdkdas.v3 import (
    DasClient,
    DeleteProcessReqBody,
    DeleteProcessRequest,
    ListDbUsersRequest,
    ListProcessesRequest,
    RegisterDbUserRequest,
    RegisterDbUserRequestBody,
    ShowDbUserRequest,
)
from pydantic import SecretStr

from conftest import World
from support.das import Das, Key, das_client, expect_das_error, make_key, registered
from support.personas import DOMAIN
from taurus_sessions.errors import ApiError
from taurus_sessions.inventory.database import Inventory
from taurus_sessions.sandbox.mariadb import free_port


@pytest.fixture(scope="module")
def das(world: World) -> Iterator[Das]:
    yield from registered(world)


@pytest.fixture(scope="module")
def dead_instance(world: World) -> Iterator[tuple[str, str]]:
    """An instance whose only node listens nowhere, with an account registered for it (directly in
    the inventory: the API would check it by logging in)."""

    async def create(inv: Inventory) -> tuple[str, str]:
        instance = await inv.instances.create_instance(world.main.project_id, "dead")
        await inv.instances.add_node(
            instance.id,
            name="dead-primary",
            role="master",
            host="127.0.0.1",
            port=free_port(),
            admin_user="rdsAdmin",
            admin_password=SecretStr("unused"),
        )
        user = await inv.db_users.register(world.main.project_id, instance.id, "nobody", SecretStr("unused"))
        return instance.id, user.id

    instance_id, db_user_id = world.service.inventory(create)
    yield instance_id, db_user_id
    world.service.inventory(lambda inv: inv.instances.delete_instance(instance_id))


Call = Callable[[World, Das, str], object]


def _processes(das: Das, language: str, **kwargs: Any) -> object:
    args = {"instance_id": das.instance_id, "db_user_id": das.dba, "x_language": language} | kwargs
    return das.alice.list_processes(ListProcessesRequest(**args))


def _kill(das: Das, language: str, body: DeleteProcessReqBody | None) -> object:
    request = DeleteProcessRequest(instance_id=das.instance_id, x_language=language, body=body)
    return das.alice.delete_process(request)


def _register(client: DasClient, instance_id: str, language: str, **body: Any) -> object:
    fields = {"db_username": "someone", "db_user_password": "secret", "datastore_type": "MySQL"} | body
    request = RegisterDbUserRequest(
        instance_id=instance_id, x_language=language, body=RegisterDbUserRequestBody(**fields)
    )
    return client.register_db_user(request)


def _client_for(w: World, project_id: str, user: str = "alice") -> DasClient:
    return das_client(w.service.url, make_key(w.service.inventory, DOMAIN, user), project_id)


CASES: list[tuple[str, Call, int, str]] = [
    (
        "no_criterion",
        lambda w, d, lang: _kill(d, lang, DeleteProcessReqBody(db_user_id=d.dba)),
        400,
        "DAS.200100",
    ),
    ("no_body", lambda w, d, lang: _kill(d, lang, None), 400, "DAS.200100"),
    (
        "bad_process_id",
        lambda w, d, lang: _kill(d, lang, DeleteProcessReqBody(db_user_id=d.dba, process_ids=["12a"])),
        400,
        "DAS.200100",
    ),
    ("unknown_node", lambda w, d, lang: _processes(d, lang, node_id="a" * 32 + "no07"), 400, "DAS.200100"),
    (
        "bad_offset",
        lambda w, d, lang: d.alice.list_db_users(
            ListDbUsersRequest(instance_id=d.instance_id, offset=-1, x_language=lang)
        ),
        400,
        "DAS.200103",
    ),
    ("limit_over_100", lambda w, d, lang: _processes(d, lang, limit=101), 400, "DAS.200104"),
    ("limit_zero", lambda w, d, lang: _processes(d, lang, limit=0), 400, "DAS.200104"),
    (
        "not_mysql",
        lambda w, d, lang: _register(d.alice, d.instance_id, lang, datastore_type="PostgreSQL"),
        400,
        "DAS.200107",
    ),
    ("database_too_long", lambda w, d, lang: _processes(d, lang, database="x" * 65), 400, "DAS.200108"),
    ("bad_db_user_id", lambda w, d, lang: _processes(d, lang, db_user_id="nope"), 400, "DAS.200112"),
    ("no_db_user_id", lambda w, d, lang: _processes(d, lang, db_user_id=None), 400, "DAS.200112"),
    (
        "bad_db_user_id_in_body",
        lambda w, d, lang: _kill(d, lang, DeleteProcessReqBody(db_user_id="nope", user="x")),
        400,
        "DAS.200112",
    ),
    (
        "bad_project_id",
        lambda w, d, lang: _client_for(w, "bad_project").list_db_users(
            ListDbUsersRequest(instance_id=d.instance_id, x_language=lang)
        ),
        400,
        "DAS.200113",
    ),
    ("bad_instance_id", lambda w, d, lang: _processes(d, lang, instance_id="nope"), 400, "DAS.200114"),
    ("unknown_instance", lambda w, d, lang: _processes(d, lang, instance_id="b" * 32), 400, "DAS.200114"),
    (
        "another_projects_instance",
        lambda w, d, lang: _processes(d, lang, instance_id=w.other.instance_id),
        400,
        "DAS.200114",
    ),
    (
        "no_role_in_the_project",
        lambda w, d, lang: _client_for(w, w.main.project_id, "otto").list_db_users(
            ListDbUsersRequest(instance_id=d.instance_id, x_language=lang)
        ),
        403,
        "DAS.200051",
    ),
    (
        "wrong_password",
        lambda w, d, lang: _register(d.alice, d.instance_id, lang, db_username=w.sandbox.app.user),
        400,
        "DAS.220001",
    ),
    (
        "unknown_db_user",
        lambda w, d, lang: d.alice.show_db_user(
            ShowDbUserRequest(instance_id=d.instance_id, db_user_id=str(uuid.uuid4()), x_language=lang)
        ),
        400,
        "DAS.220003",
    ),
    (
        "bad_signature",
        lambda w, d, lang: das_client(w.service.url, Key("NOSUCHKEY", "x"), w.main.project_id).list_db_users(
            ListDbUsersRequest(instance_id=d.instance_id, x_language=lang)
        ),
        401,
        "APIGW.0301",
    ),
    (
        "body_too_large",
        lambda w, d, lang: _kill(
            d, lang, DeleteProcessReqBody(db_user_id=d.dba, process_ids=[str(i) for i in range(150_000)])
        ),
        413,
        "APIGW.0201",
    ),
]


@pytest.mark.parametrize("language", ["en-us", "zh-cn"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_das_errors_through_the_sdk(world: World, das: Das, case: tuple[Any, ...], language: str) -> None:
    _, call, status, code = case
    row = ApiError.registry[code]
    expect_das_error(
        lambda: call(world, das, language), status, code, row.zh if language == "zh-cn" else row.en
    )


@pytest.mark.parametrize("language", ["en-us", "zh-cn"])
def test_a_node_that_cannot_be_reached(
    world: World, das: Das, dead_instance: tuple[str, str], language: str
) -> None:
    instance_id, db_user_id = dead_instance
    row = ApiError.registry["DAS.220001"]
    error = expect_das_error(
        lambda: das.alice.list_processes(
            ListProcessesRequest(instance_id=instance_id, db_user_id=db_user_id, x_language=language)
        ),
        400,
        "DAS.220001",
        row.zh if language == "zh-cn" else row.en,
    )
    assert "cannot be reached" in error.error_msg
