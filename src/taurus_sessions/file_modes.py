"""Files that hold secrets or the trail are private to the service's user: the data folder is 0700,
every file in it 0600 (the SQLite inventory's -wal and -shm files take the inventory file's mode).
The service refuses to start when one of them is open to other users, and says how to fix it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
OTHERS = 0o077  # any permission for the group or the world


class ExposedFiles(RuntimeError):
    """A file or folder holding secrets is open to other users."""


def private_umask() -> None:
    """Everything this process creates from now on is private, whatever the caller's umask."""
    os.umask(OTHERS)


def make_private_dir(path: Path) -> None:
    """Create the folder (and missing parents of it) readable by its owner only."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)


def create_private_file(path: Path) -> bool:
    """Create an empty file readable by its owner only; False if it exists already."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def _exposure(path: Path) -> str | None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None
    if not mode & OTHERS:
        return None
    fix = f"chmod {PRIVATE_DIR:o} {path}" if path.is_dir() else f"chmod {PRIVATE_FILE:o} {path}"
    return f"{path} is open to other users (mode {mode:04o}); fix it with: {fix}"


def require_private(paths: list[Path]) -> None:
    """Refuse to go on while any of ``paths`` (those that exist) is open to other users."""
    problems = [problem for path in paths if (problem := _exposure(path)) is not None]
    if problems:
        raise ExposedFiles("refusing to start: " + "; ".join(problems))


def sqlite_files(database: Path) -> list[Path]:
    """The inventory file and the journal files SQLite keeps beside it."""
    return [database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")]
