"""The official DAS SDK (huaweicloudsdkdas) pointed at the service: AK/SK-signed as the SDK signs,
or carrying an IAM token instead (the SDK has no token credentials; a request handler swaps the
signature for the header, as a gateway-facing client would send it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException, ServerResponseException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.http.http_handler import HttpHandler
from huaweicloudsdkdas.v3 import DasClient, RegisterDbUserRequest, RegisterDbUserRequestBody

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
