"""deploy/: the systemd unit is hardened and valid, the settings file and the reverse-proxy note name
real settings with the values the service reads, and the proxy settings do what the note says."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from taurus_sessions.api.middleware import ClientAddress, HostAllowList
from taurus_sessions.file_modes import OTHERS, PRIVATE_DIR
from taurus_sessions.settings import Settings

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
UNIT = DEPLOY / "taurus-sessions.service"
BINARY = "/opt/taurus-sessions/bin/taurus-sessions"

Unit = dict[str, list[tuple[str, str]]]


def parse_unit(text: str) -> Unit:
    """Sections of a unit file, each a list of (key, value) in order (keys may repeat)."""
    sections: Unit = {}
    current: list[tuple[str, str]] | None = None
    for raw in re.sub(r"\\\n", " ", text).splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, equals, value = line.partition("=")
        assert equals and current is not None, f"not a unit line: {raw!r}"
        current.append((key.strip(), value.strip()))
    return sections


def last(entries: list[tuple[str, str]], key: str) -> str:
    values = [value for name, value in entries if name == key]
    assert values, f"{key}= is missing"
    return values[-1]


def all_of(entries: list[tuple[str, str]], key: str) -> list[str]:
    return [value for name, value in entries if name == key]


def test_unit_is_hardened() -> None:
    service = parse_unit(UNIT.read_text())["Service"]

    # its own user (see the unit's comment for why not DynamicUser=yes), never root
    assert last(service, "User") == "taurus-sessions"
    assert last(service, "Group") == "taurus-sessions"
    # the one writable place, private as the service demands of its data folder
    assert last(service, "StateDirectory") == "taurus-sessions"
    assert int(last(service, "StateDirectoryMode"), 8) == PRIVATE_DIR
    assert "TAURUS_DATA_DIR=%S/taurus-sessions" in all_of(service, "Environment")
    assert int(last(service, "UMask"), 8) == OTHERS
    assert last(service, "EnvironmentFile") == "-/etc/taurus-sessions/env"

    assert last(service, "ExecStartPre") == f"{BINARY} init"
    assert last(service, "ExecStart") == f"{BINARY} serve"
    assert last(service, "Restart") == "on-failure"

    for key, value in {
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "NoNewPrivileges": "yes",
        "PrivateDevices": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectControlGroups": "yes",
        "RestrictNamespaces": "yes",
        "RestrictSUIDSGID": "yes",
        "LockPersonality": "yes",
    }.items():
        assert last(service, key) == value, key
    assert last(service, "CapabilityBoundingSet") == ""
    assert last(service, "AmbientCapabilities") == ""
    assert last(service, "RestrictAddressFamilies").split() == ["AF_INET", "AF_INET6", "AF_UNIX"]
    assert "@system-service" in all_of(service, "SystemCallFilter")


def _unit_for_verify(folder: Path) -> Path:
    """The unit as it is, but for its command's path: `systemd-analyze verify` checks that the
    command exists, and the test machine has no /opt/taurus-sessions."""
    stub = folder / "bin" / "taurus-sessions"
    stub.parent.mkdir(parents=True)
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    unit = folder / UNIT.name
    unit.write_text(UNIT.read_text().replace(BINARY, str(stub)))
    return unit


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    unit = _unit_for_verify(tmp_path)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    # Unknown keys and bad values are only warnings (exit status 0): none may name this unit.
    about_unit = [line for line in (result.stdout + result.stderr).splitlines() if UNIT.name in line]
    assert result.returncode == 0, result.stdout + result.stderr
    assert about_unit == []


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_rates_the_unit_well_protected(tmp_path: Path) -> None:
    unit = _unit_for_verify(tmp_path)
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if "--offline" in result.stderr and result.returncode != 0:
        pytest.skip("this systemd-analyze has no offline security review")
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout[-2000:] + result.stderr
    # 0 is fully locked down, 10 not at all; what stays open is named in the unit's last comment
    assert float(match.group(1)) <= 2.0, result.stdout


SETTING_LINE = re.compile(r"^#?(TAURUS_[A-Z0-9_]+)=(.*)$")
# Lines of env.example that show an example rather than the default.
EXAMPLES = {
    "TAURUS_TRUSTED_PROXIES",
    "TAURUS_ALLOWED_HOSTS",
    "TAURUS_DATABASE_URL",
    "TAURUS_MASTER_KEYS",
    "TAURUS_MASTER_KEY_FILE",
    "TAURUS_LIMITING_TIME_ZONE",
}


def settings_lines(text: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for line in text.splitlines() if (m := SETTING_LINE.match(line.strip()))}


def settings_from(lines: dict[str, str], folder: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """What the service makes of these lines, read as an env file (TAURUS_ENV_FILE)."""
    for name in [name for name in os.environ if name.startswith("TAURUS_")]:
        monkeypatch.delenv(name)
    env_file = folder / "env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in lines.items()))
    return Settings(_env_file=env_file)


def test_env_example_names_real_settings_with_their_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (DEPLOY / "env.example").read_text()
    lines = settings_lines(text)
    assert len(lines) >= 30
    # every setting is commented out: the file changes nothing until the operator says so
    assert not [line for line in text.splitlines() if line.startswith("TAURUS_")]
    assert "TAURUS_DATA_DIR" not in lines  # the unit sets it: the state directory

    fields = Settings.model_fields
    unknown = [name for name in lines if name.removeprefix("TAURUS_").lower() not in fields]
    assert unknown == []
    configured = settings_from(lines, tmp_path, monkeypatch)  # all uncommented: each value is valid
    defaults = Settings()
    for name in lines.keys() - EXAMPLES:
        field = name.removeprefix("TAURUS_").lower()
        assert getattr(configured, field) == getattr(defaults, field), name
    # JSON lists single-quoted arrive as lists
    assert configured.trusted_proxies == ["127.0.0.1/32", "::1/128"]
    assert "sessions.example.com" in configured.allowed_hosts


def proxy_note() -> tuple[dict[str, str], str]:
    text = (DEPLOY / "reverse-proxy.md").read_text()
    shell = re.search(r"```sh\n(.*?)```", text, re.S)
    nginx = re.search(r"```nginx\n(.*?)```", text, re.S)
    assert shell and nginx
    return settings_lines(shell.group(1)), nginx.group(1)


def test_reverse_proxy_settings_do_what_the_note_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines, nginx = proxy_note()
    settings = settings_from(lines, tmp_path, monkeypatch)
    server_name = re.search(r"server_name (\S+);", nginx)
    assert server_name

    hosts = HostAllowList.build(settings.allowed_hosts, settings.host)
    assert hosts.admits(server_name.group(1))
    assert hosts.admits(f"{server_name.group(1)}:8443")
    assert hosts.admits("127.0.0.1:8080") and hosts.admits("localhost:8080")
    assert not hosts.admits("rebound.example.net")

    # nginx (127.0.0.1) appends the address it saw to what the client wrote
    trusted = ClientAddress.build(settings.trusted_proxies)
    scope = {"client": ("127.0.0.1", 40000), "headers": [(b"x-forwarded-for", b"203.0.113.9, 198.51.100.7")]}
    assert trusted.of(scope) == "198.51.100.7"
    # not trusted: every client is the proxy
    assert ClientAddress.build([]).of(scope) == "127.0.0.1"


def test_nginx_example_forwards_what_the_service_checks() -> None:
    _, nginx = proxy_note()
    # the client's Host with its port (signed by the SDKs), the client address, the path as sent
    assert "proxy_set_header Host $http_host;" in nginx
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in nginx
    assert re.search(r"proxy_pass http://[\w.:]+;", nginx)
    assert "server 127.0.0.1:8080;" in nginx
