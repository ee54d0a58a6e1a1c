"""``taurus-sessions``: run the service, the demo, and manage the inventory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import uvloop
from pydantic import ValidationError

from taurus_sessions import __version__, logs
from taurus_sessions.cli.audit_cmds import audit_app
from taurus_sessions.cli.common import fail, settings
from taurus_sessions.cli.db_user_cmds import db_user_app
from taurus_sessions.cli.diagnosis_cmds import diagnosis_app
from taurus_sessions.cli.inventory_cmds import (
    access_key_app,
    init_data,
    instance_app,
    keys_app,
    node_app,
    project_app,
    role_app,
    user_app,
)
from taurus_sessions.cli.processes_cmds import processes_app
from taurus_sessions.cli.task_cmds import task_app
from taurus_sessions.file_modes import ExposedFiles, private_umask, require_private
from taurus_sessions.inventory.secrets import MasterKeyMissing
from taurus_sessions.settings import Settings

app = typer.Typer(
    help="Huawei Cloud TaurusDB session API for your own MySQL/MariaDB nodes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(project_app, name="project")
app.add_typer(instance_app, name="instance")
app.add_typer(node_app, name="node")
app.add_typer(db_user_app, name="db-user")
app.add_typer(user_app, name="user")
app.add_typer(role_app, name="role")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(access_key_app, name="access-key")
app.add_typer(processes_app, name="processes")
app.add_typer(task_app, name="task")
app.add_typer(diagnosis_app, name="diagnosis")


@app.command()
def version() -> None:
    typer.echo(__version__)


@app.command()
def init() -> None:
    """Create the master key and the first token key, and migrate the inventory."""
    init_data()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default TAURUS_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default TAURUS_PORT).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Service processes on the port (default TAURUS_WORKERS, 1)."),
    ] = None,
    ssl_certfile: Annotated[
        Path | None, typer.Option(help="Serve HTTPS with this certificate, PEM (or TAURUS_SSL_CERTFILE).")
    ] = None,
    ssl_keyfile: Annotated[
        Path | None, typer.Option(help="Its private key, PEM, owner-only (or TAURUS_SSL_KEYFILE).")
    ] = None,
) -> None:
    """Serve the API (run `init` once before)."""
    # Imported here: the web stack is heavy and the inventory commands should start fast.
    from taurus_sessions.server import Server
    from taurus_sessions.workers import serve_workers

    overrides: dict[str, Any] = {"workers": workers, "ssl_certfile": ssl_certfile, "ssl_keyfile": ssl_keyfile}
    try:
        given = {k: v for k, v in overrides.items() if v is not None}
        conf = Settings.model_validate(settings().model_dump() | given)
    except ValidationError as exc:
        fail(f"settings: {exc.errors()[0]['msg']}", code=2)
    logs.configure(conf.log_level, conf.log_format)
    listen_host, listen_port = host or conf.host, conf.port if port is None else port
    try:
        require_private(conf.private_paths)
        if conf.workers > 1:
            raise typer.Exit(serve_workers(conf, listen_host, listen_port))
        uvloop.run(Server(conf, listen_host, listen_port).run())
    except (MasterKeyMissing, ExposedFiles) as exc:
        fail(str(exc))
    except RuntimeError as exc:
        if "token keys" in str(exc):
            fail(str(exc))
        raise


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port for the API on 127.0.0.1 (0: any free port).")] = 8080,
    manifest: Annotated[
        Path | None, typer.Option(help="Write the demo's endpoints and credentials here.")
    ] = None,
    keep: Annotated[bool, typer.Option(help="Keep the temporary folder on exit (for debugging).")] = False,
) -> None:
    """Start a TaurusDB-like instance from real MariaDB servers and serve the API on it."""
    from taurus_sessions.sandbox.demo import run_demo  # heavy; see serve

    conf = settings()
    logs.configure(conf.log_level, conf.log_format)
    uvloop.run(run_demo(port=port, manifest=manifest, keep=keep))


def main() -> None:
    private_umask()  # whatever this process writes (inventory, keys, exports) is its user's only
    app()
