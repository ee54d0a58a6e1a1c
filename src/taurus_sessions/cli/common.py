"""Helpers shared by the CLI commands: running against the inventory, reading secrets, printing."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import orjson
import typer
from pydantic import SecretStr

from taurus_sessions.file_modes import ExposedFiles, require_private
from taurus_sessions.inventory.database import Inventory
from taurus_sessions.inventory.instances import Conflict, NotFound
from taurus_sessions.inventory.secrets import MasterKeyMissing
from taurus_sessions.settings import Settings

T = TypeVar("T")


def settings() -> Settings:
    return Settings.load()


def with_inventory(work: Callable[[Inventory], Awaitable[T]]) -> T:
    """Open the inventory (migrated), run one unit of work, close; errors become clean exits."""

    async def run() -> T:
        conf = settings()
        require_private(conf.private_paths)
        inventory = await Inventory.open(conf)
        try:
            return await work(inventory)
        finally:
            await inventory.close()

    try:
        return asyncio.run(run())
    except (NotFound, Conflict, MasterKeyMissing, ExposedFiles, ValueError) as exc:
        fail(str(exc))


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def read_secret(file: Path | None, env: str | None, stdin: bool, what: str) -> SecretStr:
    """A secret from a file, an environment variable or stdin: never from the command line."""
    chosen = [source for source in (file, env, stdin or None) if source]
    if len(chosen) != 1:
        fail(f"give the {what} with exactly one of --{what}-file, --{what}-env or --{what}-stdin")
    if file is not None:
        value = file.read_text().splitlines()[0] if file.read_text() else ""
    elif env is not None:
        if env not in os.environ:
            fail(f"environment variable {env} is not set")
        value = os.environ[env]
    else:
        value = sys.stdin.readline().rstrip("\n")
    if not value:
        fail(f"the {what} is empty")
    return SecretStr(value)


# Text from a database (statements, user and host names) may hold terminal control sequences: ESC
# and the other C0/C1 controls, and the bidirectional overrides that make text display other than
# it reads (Trojan Source). None of them reaches the terminal.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROLS_IN_JSON = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    """``text`` for a terminal: line breaks and tabs become spaces, other controls are dropped."""
    return _CONTROLS.sub(lambda m: " " if m.group() in "\t\n\r" else "", text)


def echo_safe(text: str) -> None:
    typer.echo(terminal_safe(text))


def print_json(data: Any) -> None:
    # orjson escapes C0 controls itself; the rest become \uXXXX escapes (the same JSON value).
    text = orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode()
    typer.echo(_CONTROLS_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[("" if v is None else terminal_safe(str(v))) for v in row] for row in rows]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]
    typer.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
