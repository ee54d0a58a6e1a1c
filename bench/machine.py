"""What the figures were measured on: CPU model, cores, load, and the versions of every moving part."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_signature() -> str | None:
    """Family/model/stepping, which tell CPU generations apart when the model name does not."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() in ("cpu family", "model", "stepping") and name.strip() not in fields:
                fields[name.strip()] = value.strip()
    except OSError:
        return None
    if len(fields) < 3:
        return None
    return f"family {fields['cpu family']} model {fields['model']} stepping {fields['stepping']}"


def _version_of(command: list[str]) -> str | None:
    if shutil.which(command[0]) is None:
        return None
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (result.stdout or result.stderr).strip().splitlines()
    return lines[0].strip() if lines else None


def _package(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def describe(mariadb_version: str) -> dict[str, Any]:
    return {
        "cpu_model": cpu_model(),
        "cpu_signature": cpu_signature(),
        "logical_cpus": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_mib": round(psutil.virtual_memory().total / 2**20),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "kernel": platform.release(),
        "python": platform.python_version(),
        "mariadb": mariadb_version,
        "packages": {
            name: _package(name) for name in ("asyncmy", "uvicorn", "uvloop", "httptools", "fastapi")
        },
        "pt_kill": _version_of(["pt-kill", "--version"]),
        "wrk": _version_of(["wrk", "--version"]),
    }
