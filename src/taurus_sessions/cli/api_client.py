"""A client of the session API that signs with AK/SK, as the official SDKs do.

It talks to any endpoint that speaks the API: this service, or Huawei Cloud's own. Credentials
come from the environment variables the SDKs read (``HUAWEICLOUD_SDK_AK``, ``HUAWEICLOUD_SDK_SK``,
``HUAWEICLOUD_SDK_PROJECT_ID``) or from a profile in a TOML file.
"""

from __future__ import annotations

import os
import ssl
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from pydantic import SecretStr

from taurus_sessions.auth.signing import canonical_query, sign_request

ENV_AK = "HUAWEICLOUD_SDK_AK"
ENV_SK = "HUAWEICLOUD_SDK_SK"
ENV_PROJECT_ID = "HUAWEICLOUD_SDK_PROJECT_ID"
ENV_IAM_ENDPOINT = "HUAWEICLOUD_SDK_IAM_ENDPOINT"
ENV_ENDPOINT = "TAURUS_ENDPOINT"
ENV_CA_FILE = "TAURUS_CA_FILE"


class ClientConfigError(ValueError):
    pass


class ApiUnreachable(Exception):
    """No answer at all: the endpoint refused the connection, timed out, or failed TLS."""


class ApiCallError(Exception):
    def __init__(self, status: int, code: str, message: str, request_id: str | None) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id


@dataclass(frozen=True)
class Profile:
    endpoint: str
    ak: str
    sk: SecretStr
    project_id: str | None = None
    region: str | None = None
    iam_endpoint: str | None = None
    language: str = "en-us"
    ca_file: Path | None = None  # certificates to trust for an https endpoint (default: the system's)


def default_profiles_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "taurus-sessions" / "profiles.toml"


def load_profile(
    name: str | None,
    *,
    endpoint: str | None = None,
    project_id: str | None = None,
    region: str | None = None,
    iam_endpoint: str | None = None,
    profiles_file: Path | None = None,
    ca_file: Path | None = None,
) -> Profile:
    """Command-line values win over the environment, which wins over the profile."""
    section: Mapping[str, Any] = {}
    path = profiles_file or default_profiles_file()
    if name is not None or path.exists():
        section = _read_profile(path, name or "default", required=name is not None)
    sk = os.environ.get(ENV_SK) or _profile_secret(section, path)
    resolved = {
        "endpoint": endpoint or os.environ.get(ENV_ENDPOINT) or section.get("endpoint"),
        "ak": os.environ.get(ENV_AK) or section.get("ak"),
        "project_id": project_id or os.environ.get(ENV_PROJECT_ID) or section.get("project_id"),
        "region": region or section.get("region"),
        "iam_endpoint": iam_endpoint or os.environ.get(ENV_IAM_ENDPOINT) or section.get("iam_endpoint"),
    }
    trusted = ca_file or os.environ.get(ENV_CA_FILE) or section.get("ca_file")
    missing = [key for key in ("endpoint", "ak") if not resolved[key]] + ([] if sk else ["sk"])
    if missing:
        raise ClientConfigError(
            f"missing {', '.join(missing)}: set {ENV_AK}/{ENV_SK} (and --endpoint or {ENV_ENDPOINT}) "
            f"or write a profile in {path}"
        )
    return Profile(
        endpoint=str(resolved["endpoint"]).rstrip("/"),
        ak=str(resolved["ak"]),
        sk=SecretStr(str(sk)),
        project_id=resolved["project_id"],
        region=resolved["region"],
        iam_endpoint=resolved["iam_endpoint"],
        language=str(section.get("language", "en-us")),
        ca_file=Path(trusted) if trusted else None,
    )


def _read_profile(path: Path, name: str, required: bool) -> Mapping[str, Any]:
    try:
        document = tomllib.loads(path.read_text())
    except FileNotFoundError:
        if required:
            raise ClientConfigError(f"no profiles file at {path}") from None
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ClientConfigError(f"{path} is not valid TOML: {exc}") from None
    section = document.get(name)
    if section is None:
        if required:
            raise ClientConfigError(f"no profile [{name}] in {path}")
        return {}
    if not isinstance(section, dict):
        raise ClientConfigError(f"[{name}] in {path} is not a table")
    return section


def _private(path: Path) -> Path:
    # A file holding an SK that others can read is refused, as ssh refuses such a key file.
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ClientConfigError(f"{path} holds an SK and is readable by others: chmod 600 {path}")
    return path


def _profile_secret(section: Mapping[str, Any], path: Path) -> str | None:
    if "sk_file" in section:
        sk_file = Path(str(section["sk_file"])).expanduser()
        try:
            return _private(sk_file).read_text().strip() or None
        except FileNotFoundError:
            raise ClientConfigError(f"sk_file {sk_file} does not exist") from None
    if "sk" in section:
        _private(path)
        return str(section["sk"])
    return None


class SessionApiClient:
    def __init__(self, profile: Profile, timeout: float = 30.0) -> None:
        self.profile = profile
        verify: ssl.SSLContext | bool = True
        if profile.ca_file is not None:
            try:
                verify = ssl.create_default_context(cafile=str(profile.ca_file))
            except (OSError, ssl.SSLError) as exc:
                raise ClientConfigError(f"the CA file {profile.ca_file} cannot be used: {exc}") from None
        self._http = httpx.Client(timeout=timeout, verify=verify)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SessionApiClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        base: str | None = None,
        project_header: bool = True,
    ) -> dict[str, Any]:
        params = {k: _query_value(v) for k, v in (query or {}).items() if v is not None}
        # The URL carries the query exactly as it is signed (sorted, %20 for spaces), as the SDKs send it.
        url = (
            (base or self.profile.endpoint) + path + (f"?{canonical_query(params.items())}" if params else "")
        )
        content = orjson.dumps(body) if body is not None else b""
        headers = {"X-Language": self.profile.language}
        if content:
            headers["Content-Type"] = "application/json;charset=UTF-8"
        if project_header and self.profile.project_id:
            headers["X-Project-Id"] = self.profile.project_id
        signed = sign_request(
            method, url, headers, content, self.profile.ak, self.profile.sk.get_secret_value()
        )
        try:
            response = self._http.request(method, url, content=content, headers=signed)
        except httpx.TransportError as exc:
            raise ApiUnreachable(f"no answer from {base or self.profile.endpoint}: {exc}") from None
        request_id = response.headers.get("x-request-id")
        try:
            document = response.json()
        except ValueError:
            document = {}
        if response.status_code >= 400:
            if "error" in document and isinstance(document["error"], dict):  # IAM's shape
                code, message = str(document["error"].get("code")), str(document["error"].get("message"))
            else:
                code = str(document.get("error_code", response.status_code))
                message = str(document.get("error_msg", response.reason_phrase))
            raise ApiCallError(response.status_code, code, message, request_id)
        return dict(document) if isinstance(document, dict) else {"result": document}

    def project_id(self) -> str:
        """The project id, resolved from the region through IAM when not given (as the SDKs do)."""
        if self.profile.project_id:
            return self.profile.project_id
        if not self.profile.region:
            raise ClientConfigError(f"give a project id ({ENV_PROJECT_ID} or --project-id) or a region")
        base = (self.profile.iam_endpoint or self.profile.endpoint).rstrip("/")
        found = self._call(
            "GET", "/v3/projects", query={"name": self.profile.region}, base=base, project_header=False
        )
        projects = found.get("projects") or []
        if len(projects) != 1:
            raise ClientConfigError(
                f"expected one project named {self.profile.region!r}, found {len(projects)}"
            )
        project_id = str(projects[0]["id"])
        self.profile = Profile(**{**self.profile.__dict__, "project_id": project_id})
        return project_id

    def _node(self, instance_id: str, node_id: str) -> str:
        return f"/v3/{self.project_id()}/instances/{instance_id}/nodes/{node_id}"

    # -- operations -------------------------------------------------------------------------------
    def list_taurus_db_node_processes(self, instance_id: str, node_id: str, **query: Any) -> dict[str, Any]:
        return self._call("GET", self._node(instance_id, node_id) + "/processes", query=query)

    def delete_taurus_db_node_processes(
        self, instance_id: str, node_id: str, ids: list[int]
    ) -> dict[str, Any]:
        return self._call("DELETE", self._node(instance_id, node_id) + "/processes", body={"processes": ids})

    def kill_node_processes(self, instance_id: str, node_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", self._node(instance_id, node_id) + "/processes/kill", body=body)

    def kill_node_processes_by_filter(
        self, instance_id: str, node_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        return self._call("POST", self._node(instance_id, node_id) + "/processes/kill-by-filter", body=body)

    def show_lock_wait_session(self, instance_id: str, node_id: str, pid: int) -> dict[str, Any]:
        return self._call("GET", self._node(instance_id, node_id) + "/process/lock-wait", query={"pid": pid})

    def create_kill_task(self, instance_id: str, node_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", self._node(instance_id, node_id) + "/kill-tasks", body=body)

    def list_kill_tasks(self, **query: Any) -> dict[str, Any]:
        return self._call("GET", f"/v3/{self.project_id()}/kill-tasks", query=query)

    def show_kill_task(self, task_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v3/{self.project_id()}/kill-tasks/{task_id}")

    def stop_kill_task(self, task_id: str) -> dict[str, Any]:
        return self._call("POST", f"/v3/{self.project_id()}/kill-tasks/{task_id}/stop")

    # -- Intelligent Diagnosis (contract Part F) --------------------------------------------------
    def _instance(self, instance_id: str) -> str:
        return f"/v3/{self.project_id()}/instances/{instance_id}"

    def add_kill_process_task(self, instance_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", self._instance(instance_id) + "/process/task", body=body)

    def show_kill_process_task(self, instance_id: str) -> dict[str, Any]:
        return self._call("GET", self._instance(instance_id) + "/process/task")

    def stop_kill_process_task(self, instance_id: str, task_id: str) -> dict[str, Any]:
        return self._call("PUT", self._instance(instance_id) + "/process/task", body={"id": task_id})

    def show_kill_process_task_preview(self, instance_id: str, **query: Any) -> dict[str, Any]:
        return self._call("GET", self._instance(instance_id) + "/process/task/preview", query=query)

    def update_auto_kill_process_status(self, instance_id: str, on: bool) -> dict[str, Any]:
        body = {"status": "ON" if on else "OFF"}
        return self._call("PUT", self._instance(instance_id) + "/process/task/switch", body=body)

    def show_kill_process_status(self, instance_id: str) -> dict[str, Any]:
        return self._call("GET", self._instance(instance_id) + "/process/task/switch")

    def execute_kill_all_process(self, instance_id: str) -> dict[str, Any]:
        return self._call("PUT", self._instance(instance_id) + "/all/process")

    def show_kill_process_history(self, instance_id: str, **query: Any) -> dict[str, Any]:
        return self._call("GET", self._instance(instance_id) + "/process/kill/history", query=query)

    def show_intelligent_kill_session_statistic(self, instance_id: str, node_id: str) -> dict[str, Any]:
        path = self._instance(instance_id) + "/intelligent-kill-session/statistic"
        return self._call("GET", path, query={"node_id": node_id})

    def execute_intelligent_kill_session(self, instance_id: str, node_id: str) -> dict[str, Any]:
        path = self._instance(instance_id) + "/intelligent-kill-session"
        return self._call("POST", path, body={"node_id": node_id})

    def list_intelligent_kill_session_history(self, instance_id: str, **query: Any) -> dict[str, Any]:
        path = self._instance(instance_id) + "/intelligent-kill-session/history"
        return self._call("GET", path, query=query)

    def set_auto_sql_limiting(self, instance_id: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
        body = {"auto_sql_limiting_rules": rules}
        return self._call("PUT", self._instance(instance_id) + "/auto-sql-limiting", body=body)

    def show_sql_auto_sql_limiting(self, instance_id: str, node_ids: list[str]) -> dict[str, Any]:
        body = {"node_ids": node_ids}
        return self._call("POST", self._instance(instance_id) + "/auto-sql-limiting", body=body)

    def delete_auto_sql_limiting(self, instance_id: str, node_id: str) -> dict[str, Any]:
        return self._call("DELETE", self._node(instance_id, node_id) + "/auto-sql-limiting")

    def show_auto_sql_limiting_log(self, instance_id: str, node_id: str) -> dict[str, Any]:
        return self._call("GET", self._node(instance_id, node_id) + "/auto-sql-limiting/log")

    def show_gauss_my_sql_job_info(self, job_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v3/{self.project_id()}/jobs", query={"id": job_id})

    def collect_realtime_session(
        self, instance_id: str, node_id: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        path = self._node(instance_id, node_id) + "/realtime-session"
        return self._call("POST", path, body=body or None)

    def show_realtime_session_task_status(
        self, instance_id: str, node_id: str, request_id: str
    ) -> dict[str, Any]:
        path = self._node(instance_id, node_id) + "/realtime-session-task"
        return self._call("GET", path, query={"request_id": request_id})

    def download_realtime_session(self, instance_id: str, node_id: str, request_id: str) -> bytes:
        """The collection's file (CSV), as the service sends it."""
        path = self._node(instance_id, node_id) + "/realtime-session-result"
        query = canonical_query([("request_id", request_id)])
        return self.download(f"{self.profile.endpoint}{path}?{query}")

    def download(self, url: str) -> bytes:
        """A file of this service (a download link with its ticket, a collection's file), signed
        like every call."""
        headers = {"X-Language": self.profile.language}
        signed = sign_request("GET", url, headers, b"", self.profile.ak, self.profile.sk.get_secret_value())
        response = self._http.get(url, headers=signed)
        if response.status_code >= 400:
            is_json = response.headers.get("content-type", "").startswith("application/json")
            document = response.json() if is_json else {}
            raise ApiCallError(
                response.status_code,
                str(document.get("error_code", response.status_code)),
                str(document.get("error_msg", response.reason_phrase)),
                response.headers.get("x-request-id"),
            )
        return response.content

    def list_audit_events(self, **query: Any) -> dict[str, Any]:
        return self._call("GET", f"/v3/{self.project_id()}/audit-events", query=query)


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
