"""`taurus-sessions task …`: kill tasks through the API (taurus-sessions extension)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from taurus_sessions.cli.common import echo_safe, print_json, print_table
from taurus_sessions.cli.connection import api_client, client_group, filter_options
from taurus_sessions.cli.processes_cmds import InstanceOpt, JsonOpt, ModeOpt, NodeOpt
from taurus_sessions.domain import ThreadFilter

task_app = client_group("Kill tasks through the API (taurus-sessions extension).")

TASK_HEADERS = ("ID", "NAME", "STATE", "NODE", "FILTER", "PASSES", "KILLED", "ENDS")


def _task_rows(tasks: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (
            t["id"],
            t["name"],
            t["state"],
            t["node_id"][:12],
            t["filter"],
            t["passes"],
            t["victims_killed"],
            t["ends_at"] or "until stopped",
        )
        for t in tasks
    ]


@task_app.command("create")
@filter_options
def task_create(
    ctx: typer.Context,
    instance: InstanceOpt,
    node: NodeOpt,
    flt: ThreadFilter,
    interval: Annotated[int, typer.Option(min=1, max=3600, help="Seconds between passes.")] = 5,
    duration: Annotated[int | None, typer.Option(min=1, help="Seconds to run (default 600).")] = None,
    until_stopped: Annotated[bool, typer.Option(help="Run until stopped.")] = False,
    victims: Annotated[str, typer.Option(help="all, oldest or all-but-oldest.")] = "all",
    max_victims_per_pass: Annotated[int | None, typer.Option(min=1)] = None,
    mode: ModeOpt = "connection",
    name: Annotated[str | None, typer.Option(help="A name for the task (at most 64 characters).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Keep killing sessions matching the filter, every interval, for a duration."""
    body: dict[str, Any] = {"filter": flt.as_dict(), "interval_seconds": interval, "victims": victims}
    body |= {"mode": mode} | ({"name": name} if name else {})
    if until_stopped:
        body["duration_seconds"] = None
    elif duration is not None:
        body["duration_seconds"] = duration
    if max_victims_per_pass is not None:
        body["max_victims_per_pass"] = max_victims_per_pass
    with api_client(ctx) as client:
        task = client.create_kill_task(instance, node, body)["task"]
    if as_json:
        print_json(task)
    else:
        typer.echo(task["id"])


@task_app.command("list")
def task_list(
    ctx: typer.Context,
    state: Annotated[str | None, typer.Option(help="running, stopped, finished or failed.")] = None,
    as_json: JsonOpt = False,
) -> None:
    with api_client(ctx) as client:
        answer = client.list_kill_tasks(state=state)
    if as_json:
        print_json(answer)
    else:
        print_table(TASK_HEADERS, _task_rows(answer["tasks"]))


@task_app.command("show")
def task_show(ctx: typer.Context, task_id: str, as_json: JsonOpt = False) -> None:
    with api_client(ctx) as client:
        answer = client.show_kill_task(task_id)
    if as_json:
        print_json(answer)
        return
    print_table(TASK_HEADERS, _task_rows([answer["task"]]))
    if answer["task"]["last_error"]:
        echo_safe(f"last error: {answer['task']['last_error']}")
    if answer["recent_victims"] is None:
        typer.echo("(recent victims are shown with the right to read the audit trail)")
        return
    victims = [
        (v["at"][:19], v["id"], v["outcome"], v.get("user"), v.get("host")) for v in answer["recent_victims"]
    ]
    if victims:
        typer.echo("")
        print_table(("AT", "ID", "OUTCOME", "USER", "HOST"), victims)


@task_app.command("stop")
def task_stop(ctx: typer.Context, task_id: str, as_json: JsonOpt = False) -> None:
    with api_client(ctx) as client:
        answer = client.stop_kill_task(task_id)
    if as_json:
        print_json(answer)
    else:
        typer.echo(f"{answer['task']['id']} {answer['task']['state']}")
