"""Calling the service as Huawei's clients do: the official GaussDB SDK client for an endpoint, and
raw calls signed the way the SDKs sign (for what the SDK's models would not send, and for the
operations newer than the SDK)."""

from __future__ import annotations

from typing import Any

import httpx
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkgaussdb.v3 import GaussDBClient

from taurus_sessions.auth.signing import sign_request


def gaussdb_client(
    url: str, ak: str, sk: str, project_id: str, config: HttpConfig | None = None
) -> GaussDBClient:
    """The SDK's synchronous client on ``url`` with an AK/SK and a project id."""
    if config is None:
        config = HttpConfig.get_default_config()
        config.timeout = (5, 60)
    builder = GaussDBClient.new_builder().with_http_config(config).with_endpoints([url])
    return builder.with_credentials(BasicCredentials(ak, sk, project_id)).build()


def signed_call(
    method: str,
    url: str,
    ak: str,
    sk: str,
    project_id: str,
    *,
    body: Any = None,
    raw: bytes | None = None,
    query: dict[str, Any] | None = None,
) -> httpx.Response:
    """One call signed with ``ak``/``sk``: ``body`` as JSON, or ``raw`` bytes as they are."""
    target = httpx.URL(url, params={k: str(v) for k, v in (query or {}).items()})
    content = (
        raw if raw is not None else b"" if body is None else httpx.Request(method, target, json=body).content
    )
    headers = {"X-Project-Id": project_id}
    if content or raw is not None:
        headers["Content-Type"] = "application/json"
    signed = sign_request(method, str(target), headers, content, ak, sk)
    return httpx.request(method, target, content=content, headers=signed, timeout=60)
