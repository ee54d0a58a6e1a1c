"""What every client command group shares: where the API is and how to sign (options given once per
group, before the command, and kept in the Click context), and the filter options, derived from the
one ``ThreadFilter`` model that the API parses too."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError

from taurus_sessions.cli.api_client import (
    ApiCallError,
    ApiUnreachable,
    ClientConfigError,
    SessionApiClient,
    load_profile,
)
from taurus_sessions.cli.common import fail
from taurus_sessions.domain import ThreadFilter

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Connection:
    profile: str | None = None
    endpoint: str | None = None
    project_id: str | None = None
    region: str | None = None
    iam_endpoint: str | None = None
    profiles_file: Path | None = None
    ca_file: Path | None = None


def connection_options(
    ctx: typer.Context,
    profile: Annotated[
        str | None, typer.Option(help="Profile name in the profiles file (default: the one named default).")
    ] = None,
    endpoint: Annotated[
        str | None, typer.Option(help="API endpoint, e.g. http://127.0.0.1:8080 (or TAURUS_ENDPOINT).")
    ] = None,
    project_id: Annotated[
        str | None, typer.Option("--project-id", help="Project id (or HUAWEICLOUD_SDK_PROJECT_ID).")
    ] = None,
    region: Annotated[
        str | None, typer.Option(help="Region (project name) to resolve the project id from.")
    ] = None,
    iam_endpoint: Annotated[
        str | None, typer.Option(help="IAM endpoint for that lookup (default: the API endpoint).")
    ] = None,
    profiles_file: Annotated[
        Path | None, typer.Option(help="Profiles file (default ~/.config/taurus-sessions/profiles.toml).")
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option(
            help="Certificates to trust for an https endpoint (or TAURUS_CA_FILE; default: the system's)."
        ),
    ] = None,
) -> None:
    """Where the API is and how to sign (AK/SK from the environment or a profile)."""
    ctx.obj = Connection(profile, endpoint, project_id, region, iam_endpoint, profiles_file, ca_file)


def client_group(help_text: str) -> typer.Typer:
    """A command group whose connection options come once, before the command."""
    group = typer.Typer(help=help_text, no_args_is_help=True)
    group.callback()(connection_options)
    return group


@contextmanager
def api_client(ctx: typer.Context) -> Iterator[SessionApiClient]:
    """The signed client for a command of a client group; configuration and API errors end the
    command with a clear message (and the request id of a refused call)."""
    connection = ctx.find_object(Connection) or Connection()
    try:
        loaded = load_profile(
            connection.profile,
            endpoint=connection.endpoint,
            project_id=connection.project_id,
            region=connection.region,
            iam_endpoint=connection.iam_endpoint,
            profiles_file=connection.profiles_file,
            ca_file=connection.ca_file,
        )
        with SessionApiClient(loaded) as client:
            yield client
    except ClientConfigError as exc:
        fail(str(exc), code=2)
    except ApiCallError as exc:
        fail(f"{exc.code}: {exc.message} (HTTP {exc.status}, request id {exc.request_id})")
    except ApiUnreachable as exc:
        fail(str(exc))


def _option_type(annotation: Any) -> Any:
    if annotation is bool:
        return bool
    members = typing.get_args(annotation) or (annotation,)
    return int | None if int in members else str | None


def filter_options(command: F) -> F:
    """Give ``command`` one option per ``ThreadFilter`` field; it receives them as ``flt``."""
    signature = inspect.signature(command, eval_str=True)
    kept = [p for p in signature.parameters.values() if p.name != "flt"]
    added = [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=field.default,
            annotation=Annotated[
                _option_type(field.annotation),
                typer.Option(f"--{name.replace('_', '-')}", help=field.description, rich_help_panel="Filter"),
            ],
        )
        for name, field in ThreadFilter.model_fields.items()
    ]

    @functools.wraps(command)
    def with_filter(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in ThreadFilter.model_fields}
        try:
            flt = ThreadFilter.model_validate(values)
        except ValidationError as exc:
            first = exc.errors()[0]
            fail(f"--{'-'.join(map(str, first['loc'])).replace('_', '-')}: {first['msg']}")
        return command(*args, flt=flt, **kwargs)

    with_filter.__signature__ = signature.replace(parameters=[*kept, *added])  # type: ignore[attr-defined]
    return with_filter  # type: ignore[return-value]
