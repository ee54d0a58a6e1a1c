"""pt-kill as a DBA types it, for one pass: match one account, kill every match, stop.

pt-kill loops "check, kill, sleep --interval" until --run-time is over, and its clock has whole
seconds only, so no option makes it exit right after its first pass: ``--run-time 1 --interval 1``
gives exactly one pass followed by a one-second sleep. The time reported is from launching the
command to the end of that pass (start-up, connect, one processlist read, every KILL), taken when
``--verbose`` announces the sleep; the sleep that follows is an artefact of the loop and is not
charged to pt-kill (the time to exit is recorded apart).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

MATCHED = re.compile(rb"Matched (\d+) queries")
KILLED = re.compile(rb"Killed \d+")
FAILED = re.compile(rb"Error killing")


class PtKillError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class PtKillRun:
    pass_seconds: float  # launch → end of the one pass
    exit_seconds: float  # launch → process exit (includes the loop's trailing sleep)
    matched: int
    killed: int
    errors: int


def available() -> bool:
    return shutil.which("pt-kill") is not None


def write_defaults_file(folder: Path, user: str, password: str) -> Path:
    """The account in an option file readable by its owner only, rather than on the command line."""
    path = folder / "pt-kill.cnf"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(f"[client]\nuser={user}\npassword={password}\n")
    return path


def command(defaults: Path, host: str, port: int, account: str) -> list[str]:
    return [
        "pt-kill",
        "--no-version-check",
        "--match-user",
        f"^{re.escape(account)}$",
        "--victims",
        "all",
        "--kill",
        "--run-time",
        "1",
        "--interval",
        "1",
        "--verbose",
        f"F={defaults},h={host},P={port}",
    ]


async def sweep(defaults: Path, host: str, port: int, account: str) -> PtKillRun:
    """One pass; the caller bounds it with ``asyncio.timeout`` (the child is killed if cancelled)."""
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *command(defaults, host, port, account),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        limit=1 << 20,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    pass_end: float | None = None
    matched = killed = errors = 0
    try:
        while line := await process.stdout.readline():
            if pass_end is None and b"Sleeping" in line:
                pass_end = time.perf_counter()
            elif found := MATCHED.search(line):
                matched = int(found.group(1))
            elif KILLED.search(line):
                killed += 1
            elif FAILED.search(line):
                errors += 1
        stderr = await process.stderr.read()
        status = await process.wait()
    except BaseException:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    exited = time.perf_counter()
    if status != 0 or pass_end is None:
        raise PtKillError(f"pt-kill failed (status {status}): {stderr.decode(errors='replace')[-1000:]}")
    return PtKillRun(pass_end - started, exited - started, matched, killed, errors)
