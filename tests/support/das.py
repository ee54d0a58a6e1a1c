"""The official DAS SDK (huaweicloudsdkdas) pointed at the service: AK/SK-signed as the SDK signs,
or carrying an IAM token instead (the SDK has no token credentials; a request handler swaps the
signature for the header, as a gateway-facing client would send it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException, ServerResponseException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.http.http_handler import HttpHandler
from huaweicloudsdkdas.v3 import (
    DasClient,
    DeleteDbUserRequest,
    ListProcessesRequest,
    RegisterDbUserRequest,
    RegisterDbUserRequestBody,
)

from support.personas import ADMIN
from taurus_sessions.inventory.database import Inventory


@dataclass(frozen=True)
class Key:
    ak: str
    sk: str


def make_key(inventory_run: Callable[[Callable[[Inventory], Any]], Any], domain: str, user: str) -> Key:
    async def work(inv: Inventory) -> Key:
        found = await inv.users.find_user(domain, user)
        assert found is not None
        key, sk = await inv.access_keys.create(found.id, f"DAS tests ({user})")
        return Key(key.ak, sk.get_secret_value())

    result: Key = inventory_run(work)
    return result


def das_client(url: str, key: Key, project_id: str, token: str | None = None) -> DasClient:
    config = HttpConfig.get_default_config()
    config.timeout = (5, 30)
    builder = DasClient.new_builder().with_http_config(config).with_endpoints([url])
    if token is not None:
        builder = builder.with_http_handler(HttpHandler().add_request_handler(_with_token(token)))
    return builder.with_credentials(BasicCredentials(key.ak, key.sk, project_id)).build()


def _with_token(token: str) -> Callable[..., None]:
    def swap(**kwargs: Any) -> None:
        headers = kwargs["request"].header_params
        headers.pop("Authorization", None)
        headers["X-Auth-Token"] = token

    return swap


def register(client: DasClient, instance_id: str, user: str, password: str, **extra: Any) -> str:
    body = RegisterDbUserRequestBody(db_username=user, db_user_password=password, datastore_type="MySQL")
    response = client.register_db_user(RegisterDbUserRequest(instance_id=instance_id, body=body, **extra))
    db_user_id: str = response.db_user_id
    return db_user_id


def expect_das_error(call: Callable[[], object], status: int, code: str, text: str) -> Any:
    """The SDK's exception with DAS's code, the catalogue text (in the language asked for) and
    the request id of the answer."""
    with pytest.raises((ClientRequestException, ServerResponseException)) as caught:
        call()
    error = caught.value
    assert (error.status_code, error.error_code) == (status, code), str(error)
    assert error.error_msg.startswith(text), error.error_msg
    assert error.request_id and len(error.request_id) == 32
    return error


@dataclass
class Das:
    """Clients of one project and two registered accounts of its instance."""

    alice: DasClient  # admin, AK/SK
    rita: DasClient  # readonly, AK/SK
    token: DasClient  # alice again, with an IAM token instead of a signature
    dba: str  # db_user_id of an account with every privilege
    app: str  # db_user_id of shop_app: all on its database, no PROCESS
    instance_id: str

    def processes(self, db_user_id: str, **kwargs: Any) -> Any:
        return self.alice.list_processes(
            ListProcessesRequest(instance_id=self.instance_id, db_user_id=db_user_id, **kwargs)
        )


def registered(world: Any) -> Iterator[Das]:
    """A module's ``das`` fixture: the clients, and dba and shop_app registered for the main
    instance (removed again afterwards)."""
    keys = {user: make_key(world.service.inventory, world.main.domain, user) for user in ("alice", "rita")}
    project, instance_id = world.main.project_id, world.main.instance_id
    alice = das_client(world.service.url, keys["alice"], project)
    token = das_client(world.service.url, Key("unused", "unused"), project, token=world.token(ADMIN))
    sandbox = world.sandbox
    dba = register(alice, instance_id, sandbox.root.user, sandbox.root.password)
    app = register(alice, instance_id, sandbox.app.user, sandbox.app.password)
    rita = das_client(world.service.url, keys["rita"], project)
    yield Das(alice, rita, token, dba, app, instance_id)
    for db_user_id in (dba, app):
        alice.delete_db_user(DeleteDbUserRequest(instance_id=instance_id, db_user_id=db_user_id))
