"""Operating the service (contract Part H): metrics and who may read them, the Grafana dashboard's
queries, TLS with the official SDK and the CLI, several workers on one port (on SQLite and on
PostgreSQL), and logs for people and for collectors."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import pty
import re
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkgaussdb.v3 import ListTaurusDbNodeProcessesRequest
from prometheus_client.parser import text_string_to_metric_families
from urllib3.exceptions import InsecureRequestWarning

from conftest import World, open_app_sessions
from support.client import Api, token_body
from support.personas import ADMIN, DOMAIN, MAIN_PROJECT, PASSWORD
from support.poll import eventually
from support.service import BIN, ServiceProcess, extra_node
from support.sessions import Sessions, wait_gone
from support.signed import gaussdb_client
from support.world import populate
from taurus_sessions.auth.signing import sign_request
from taurus_sessions.sandbox.instance import SandboxInstance
from taurus_sessions.sandbox.mariadb import free_port
from taurus_sessions.sandbox.postgres import PostgresServer, ensure_bin_dir

DASHBOARD = Path(__file__).resolve().parents[1] / "deploy" / "grafana-dashboard.json"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str, **kwargs: Any) -> tuple[Samples, dict[str, str]]:
    """Every sample of ``/metrics`` by (name, labels), and every family's type by name."""
    response = httpx.get(url + "/metrics", timeout=10, **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(response.text):
        types[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples, types


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


# -- metrics ----------------------------------------------------------------------------------------
def test_metrics_count_requests_latency_kills_and_node_errors(world: World, sessions: Sessions) -> None:
    url = world.service.url
    before, _ = scrape(url)
    token = world.token(ADMIN)
    for _ in range(3):
        assert world.api.list(token, world.path()).status_code == 200
    victims = open_app_sessions(world.sandbox, sessions, 2)
    killed = world.api.kill(token, world.path(), [v.id for v in victims])
    assert killed.status_code == 200
    assert world.api.list("not-a-token", world.path()).status_code == 401
    wait_gone(world.sandbox.primary, {v.id for v in victims})

    after, types = scrape(url)
    listed = "ListTaurusDbNodeProcesses"
    delta = value(after, "taurus_http_requests_total", operation=listed, code="200") - value(
        before, "taurus_http_requests_total", operation=listed, code="200"
    )
    assert delta == 3
    assert value(after, "taurus_http_requests_total", operation=listed, code="401") >= 1
    count = "taurus_http_request_duration_seconds_count"
    assert value(after, count, operation=listed) - value(before, count, operation=listed) == 4  # 401 too
    assert value(after, "taurus_http_request_duration_seconds_bucket", operation=listed, le="+Inf") >= 4
    kills = "taurus_kills_total"
    action = "deleteTaurusDbNodeProcesses"
    gained = value(after, kills, outcome="killed") - value(before, kills, outcome="killed")
    assert gained >= 2, (action, gained)
    assert ("taurus_audit_pending_records", frozenset()) in after
    assert types["taurus_node_pool_connections"] == "gauge"
    # the pool gauges are published every few seconds
    eventually(
        lambda: value(scrape(url)[0], "taurus_node_pool_connections", node_id=world.main.primary.node_id) > 0,
        timeout=10,
        message="the primary's pool in the gauges",
    )
    # a node that does not answer: counted by node
    nowhere = {"name": "nowhere", "port": free_port(), "user": "x", "password": "y"}
    with extra_node(world.service, world.main.instance_id, **nowhere) as dead:  # type: ignore[arg-type]
        path = Api.processes_path(world.main.project_id, world.main.instance_id, dead)
        assert world.api.list(token, path).status_code == 500
        assert value(scrape(url)[0], "taurus_node_errors_total", node_id=dead) == 1


def test_metrics_answer_only_the_allowed_networks(start_in_process: Any) -> None:
    closed = start_in_process(metrics_allow=["10.0.0.0/8"])
    refused = closed.api.http.get("/metrics")
    assert refused.status_code == 404 and refused.json()["error_code"] == "APIGW.0101"
    # an X-Forwarded-For from a proxy that is not trusted changes nothing
    spoofed = closed.api.http.get("/metrics", headers={"X-Forwarded-For": "10.1.2.3"})
    assert spoofed.status_code == 404
    assert closed.api.http.get("/healthz").status_code == 200
    # behind a trusted proxy, the client it names is the one judged
    proxied = start_in_process(metrics_allow=["10.0.0.0/8"], trusted_proxies=["127.0.0.0/8"])
    assert proxied.api.http.get("/metrics", headers={"X-Forwarded-For": "10.1.2.3"}).status_code == 200
    assert proxied.api.http.get("/metrics", headers={"X-Forwarded-For": "192.0.2.7"}).status_code == 404
    opened = start_in_process()  # the default: loopback
    answer = opened.api.http.get("/metrics")
    assert answer.status_code == 200 and "taurus_http_requests_total" in answer.text


def test_links_follow_the_scheme_a_trusted_proxy_names(start_in_process: Any) -> None:
    """Behind a TLS-terminating proxy the links in answers say https, if the proxy is trusted."""
    body = token_body(ADMIN.name, PASSWORD, DOMAIN, project_name=MAIN_PROJECT)

    def catalog_url(deployment: Any) -> str:
        answer = deployment.api.http.post(
            "/v3/auth/tokens", json=body, headers={"X-Forwarded-Proto": "https"}
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["token"]["catalog"][0]["endpoints"][0]["url"])

    assert catalog_url(start_in_process(trusted_proxies=["127.0.0.0/8"])).startswith("https://127.0.0.1/v3/")
    assert catalog_url(start_in_process()).startswith("http://127.0.0.1/v3/")  # nobody trusted


def test_the_dashboard_queries_only_metrics_the_service_exports(world: World) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    _, types = scrape(world.service.url)
    exported: set[str] = set()
    for name, kind in types.items():
        if not name.startswith("taurus_"):
            continue
        if kind == "counter":
            exported |= {f"{name}_total", f"{name}_created"}
        elif kind == "histogram":
            exported |= {f"{name}_bucket", f"{name}_sum", f"{name}_count", f"{name}_created"}
        else:
            exported.add(name)
    used = {name for expr in exprs for name in re.findall(r"\btaurus_[a-z_]+", expr)}
    assert used and used <= exported, used - exported
    # what an operator needs on one screen
    text = " ".join(exprs)
    for needed in (
        "taurus_http_requests_total",
        'code=~"4..|5.."',
        "histogram_quantile(0.5",
        "histogram_quantile(0.99",
        "taurus_kills_total",
        "taurus_node_errors_total",
        "taurus_node_pool_connections",
        "taurus_audit_pending_records",
    ):
        assert needed in text, needed
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])


# -- TLS --------------------------------------------------------------------------------------------
def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key (owner-only)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "taurus-sessions test")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "service.crt", folder / "service.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_file.chmod(0o600)
    return cert_file, key_file


def access_key(service: ServiceProcess) -> tuple[str, str]:
    created = service.cli("access-key", "create", ADMIN.name, "--domain", DOMAIN, "--json")
    assert created.returncode == 0, created.stderr
    document = json.loads(created.stdout)
    return str(document["ak"]), str(document["sk"])


def test_https_with_the_official_sdk_and_the_cli(
    sandbox: SandboxInstance, sessions: Sessions, tmp_path: Path
) -> None:
    open_app_sessions(sandbox, sessions, 1)
    cert_file, key_file = make_certificate(tmp_path)
    folder = tmp_path / "service"
    service = ServiceProcess(folder, TAURUS_SSL_CERTFILE=str(cert_file), TAURUS_SSL_KEYFILE=str(key_file))
    main, _ = service.inventory(lambda inventory: populate(inventory, sandbox))
    ak, sk = access_key(service)
    service.start()
    try:
        assert service.url.startswith("https://")
        request = ListTaurusDbNodeProcessesRequest(instance_id=main.instance_id, node_id=main.primary.node_id)
        trusting = HttpConfig.get_default_config()
        trusting.ssl_ca_cert = str(cert_file)
        answer = gaussdb_client(service.url, ak, sk, main.project_id, trusting).list_taurus_db_node_processes(
            request
        )
        assert answer.status_code == 200 and answer.total_count >= 1
        unverified = HttpConfig.get_default_config()
        unverified.ignore_ssl_verification = True
        unchecked = gaussdb_client(service.url, ak, sk, main.project_id, unverified)
        with pytest.warns(InsecureRequestWarning):  # the SDK's HTTP stack says so, rightly
            assert unchecked.list_taurus_db_node_processes(request).status_code == 200
        # the CLI client: trusting the certificate it was given, refusing the connection otherwise
        env = {
            "HUAWEICLOUD_SDK_AK": ak,
            "HUAWEICLOUD_SDK_SK": sk,
            "HUAWEICLOUD_SDK_PROJECT_ID": main.project_id,
        }
        where = ["--instance", main.instance_id, "--node", main.primary.node_id]
        connect = ["processes", "--endpoint", service.url]
        listed = service.cli(*connect, "--ca-file", str(cert_file), "list", *where, "--json", env=env)
        assert listed.returncode == 0, listed.stderr
        assert json.loads(listed.stdout)["total_count"] >= 1
        untrusted = service.cli(*connect, "list", *where, env=env)
        assert untrusted.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
        assert "Traceback" not in untrusted.stderr
        # plain HTTP on the TLS port gets no API answer
        with pytest.raises(httpx.HTTPError):
            httpx.get(service.url.replace("https://", "http://") + "/healthz", timeout=5).raise_for_status()
    finally:
        service.stop()


def test_a_key_file_others_can_read_is_refused(sandbox: SandboxInstance, tmp_path: Path) -> None:
    cert_file, key_file = make_certificate(tmp_path)
    key_file.chmod(0o644)
    folder = tmp_path / "service"
    service = ServiceProcess(folder, TAURUS_SSL_CERTFILE=str(cert_file), TAURUS_SSL_KEYFILE=str(key_file))
    service.inventory(lambda inventory: populate(inventory, sandbox))
    with pytest.raises(RuntimeError, match="refusing to start"):
        service.start()
    alone = service.cli("serve", env={"TAURUS_SSL_KEYFILE": ""})
    assert alone.returncode == 2 and "ssl_certfile and ssl_keyfile go together" in alone.stderr


# -- several workers --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer(ensure_bin_dir())
    server.start()
    yield server
    server.stop()


def worker_processes(parent: psutil.Process) -> list[psutil.Process]:
    """The service's workers (multiprocessing also starts a resource tracker beside them)."""
    return [child for child in parent.children() if "spawn_main" in " ".join(child.cmdline())]


def fresh_connection_list(url: str, token: str, path: str) -> int:
    """One call on a connection of its own, so that calls spread over the workers."""
    with httpx.Client(base_url=url, timeout=10) as client:
        return client.get(path, headers={"X-Auth-Token": token}).status_code


def signed_list(url: str, ak: str, sk: str, project_id: str, path: str) -> httpx.Response:
    headers = sign_request("GET", url + path, {"X-Project-Id": project_id}, b"", ak, sk)
    with httpx.Client(timeout=10) as client:  # a connection of its own
        return client.get(url + path, headers=headers)


@pytest.mark.parametrize("inventory", ["sqlite", "postgresql"])
def test_two_workers_on_one_port_stay_one_service(
    inventory: str, sandbox: SandboxInstance, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("postgres").url if inventory == "postgresql" else None
    service = ServiceProcess(
        tmp_path,
        database_url=url,
        TAURUS_WORKERS="2",
        TAURUS_RATE_LIMIT_PER_SECOND="1",
        TAURUS_RATE_LIMIT_BURST="10",
        TAURUS_TASK_POLL_SECONDS="0.2",
    )
    main, _ = service.inventory(lambda inv: populate(inv, sandbox))
    ak, sk = access_key(service)
    service.start()
    try:
        assert service.process is not None
        parent = psutil.Process(service.process.pid)
        workers = eventually(
            lambda: (lambda w: w if len(w) == 2 else None)(worker_processes(parent)),
            timeout=30,
            message="two workers",
        )
        path = Api.processes_path(main.project_id, main.instance_id, main.primary.node_id)
        api = Api(service.url)
        token = api.token(ADMIN.name, PASSWORD, DOMAIN, project_name=main.project_name)

        # a token from one worker works on every worker; the throttle's budget is the setting's,
        # however the calls spread (each worker holds half of it)
        started = time.monotonic()
        codes = [fresh_connection_list(service.url, token, path) for _ in range(40)]
        elapsed = time.monotonic() - started
        assert set(codes) <= {200, 429} and 401 not in codes
        assert 5 <= codes.count(200) <= 10 + elapsed * 1 + 1, (codes.count(200), elapsed)

        # the metrics are the sum over workers, whichever worker answers the scrape; both served
        folder = tmp_path / "metrics"
        pids = {int(p.stem.rsplit("_", 1)[1]) for p in folder.glob("counter_*.db")}
        assert {w.pid for w in workers} <= pids
        for _ in range(4):
            samples, _ = scrape(service.url)
            total = value(samples, "taurus_http_requests_total", operation="ListTaurusDbNodeProcesses")
            assert total == 40

        # an access key locked by failures on some workers is locked on all
        time.sleep(2)  # let the caller's budget refill a little
        for _ in range(5):
            assert signed_list(service.url, ak, "x" * 40, main.project_id, path).status_code == 401
        for _ in range(4):
            locked = signed_list(service.url, ak, sk, main.project_id, path)
            assert locked.status_code == 401 and "reach the limit" in locked.json()["error_msg"]

        # a kill task runs once however many workers there are
        created = api.http.post(
            f"/v3/{main.project_id}/instances/{main.instance_id}/nodes/{main.primary.node_id}/kill-tasks",
            headers={"X-Auth-Token": token},
            json={"filter": {"user": "nobody_at_all"}, "interval_seconds": 1, "duration_seconds": 4},
        )
        assert created.status_code == 201, created.text
        task_id = created.json()["task"]["id"]

        def finished() -> dict[str, Any] | None:
            shown = api.http.get(
                f"/v3/{main.project_id}/kill-tasks/{task_id}", headers={"X-Auth-Token": token}
            )
            if shown.status_code == 429:  # the caller's budget of 1 call a second, shared by the workers
                return None
            task: dict[str, Any] = shown.json()["task"]
            return task if task["state"] == "finished" else None

        task = eventually(finished, timeout=30, interval=1.5, message="the task to finish")
        assert 1 <= task["passes"] <= 6, task  # one pass a second for four seconds, not two

        api.close()
        # SIGTERM stops the workers and then the service
        service.stop()
        assert service.process.returncode == 0
        assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)
    finally:
        service.stop()


# -- logs -------------------------------------------------------------------------------------------
def test_logs_are_text_on_a_terminal_and_json_lines_otherwise(
    sandbox: SandboxInstance, tmp_path: Path
) -> None:
    service = ServiceProcess(tmp_path)
    service.inventory(lambda inv: populate(inv, sandbox))
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [str(BIN), "serve"], env=service.env, stdout=secondary, stderr=secondary, start_new_session=True
    )
    os.close(secondary)
    try:
        eventually(lambda: _answers(service.url + "/healthz"), timeout=30, message="the service")
        text = eventually(lambda: _read_until(primary, "GET /healthz"), timeout=10, message="an access line")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(15)
        os.close(primary)
    assert "\x1b[" not in text  # no colour codes
    access = next(line for line in text.splitlines() if "GET /healthz" in line)
    assert re.match(r"^\d\d:\d\d:\d\d\.\d{3} INFO +GET /healthz  status=200 duration_ms=[\d.]+", access), (
        access
    )
    assert not access.lstrip().startswith("{")

    # not a terminal: JSON lines, without uvicorn's coloured copy of its messages
    service.start()
    try:
        assert _answers(service.url + "/healthz")
    finally:
        service.stop()
    lines = [json.loads(line) for line in service.log_text().splitlines() if line.strip()]
    assert any(entry.get("path") == "/healthz" for entry in lines)
    assert not any("color_message" in entry for entry in lines)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


_pty_output: dict[int, str] = {}


def _read_until(fd: int, marker: str) -> str | None:
    while select.select([fd], [], [], 0.1)[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        _pty_output[fd] = _pty_output.get(fd, "") + chunk.decode(errors="replace")
    seen = _pty_output.get(fd, "")
    return seen if marker in seen else None
