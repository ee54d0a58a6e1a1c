"""`taurus-sessions processes …`: list and kill sessions of a node through the API (AK/SK signed),
against this service or Huawei Cloud's own (filters, reasons and kill by filter are extensions)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from taurus_sessions.cli.common import echo_safe, print_json, print_table
from taurus_sessions.cli.connection import api_client, client_group, filter_options
from taurus_sessions.domain import ThreadFilter

processes_app = client_group("List and kill sessions of a node through the API (AK/SK signed).")

InstanceOpt = Annotated[str, typer.Option("--instance", help="Instance id (…in07).")]
NodeOpt = Annotated[str, typer.Option("--node", help="Node id (…no07).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer.")]
ModeOpt = Annotated[str, typer.Option(help="connection or query (query: extension).")]

PROCESS_HEADERS = ("ID", "USER", "HOST", "DB", "COMMAND", "TIME", "STATE", "INFO")


def _clip(text: str | None) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= 60 else flat[:57] + "..."


def process_rows(processes: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (
            p["id"],
            p["user"],
            p["host"],
            p["db"] or "",
            p["command"],
            p["time"],
            p["state"] or "",
            _clip(p["info"]),
        )
        for p in processes
    ]


@processes_app.command("list")
@filter_options
def processes_list(
    ctx: typer.Context,
    instance: InstanceOpt,
    node: NodeOpt,
    flt: ThreadFilter,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 100,
    all_pages: Annotated[bool, typer.Option("--all", help="Page through every session.")] = False,
    sort: Annotated[str | None, typer.Option(help="id, time or user (extension).")] = None,
    order: Annotated[str | None, typer.Option(help="asc or desc (extension).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """ListTaurusDbNodeProcesses (filters are extensions; Huawei's endpoint ignores them)."""
    query = flt.as_dict() | {k: v for k, v in {"sort": sort, "order": order}.items() if v}
    with api_client(ctx) as client:
        page = client.list_taurus_db_node_processes(instance, node, offset=offset, limit=limit, **query)
        processes, total = list(page["processes"]), int(page["total_count"])
        while all_pages and offset + len(processes) < total and page["processes"]:
            page = client.list_taurus_db_node_processes(
                instance, node, offset=offset + len(processes), limit=limit, **query
            )
            processes.extend(page["processes"])
    if as_json:
        print_json({"processes": processes, "total_count": total})
        return
    print_table(PROCESS_HEADERS, process_rows(processes))
    typer.echo(f"{len(processes)} of {total} sessions", err=True)


@processes_app.command("kill")
def processes_kill(
    ctx: typer.Context,
    ids: Annotated[list[int], typer.Argument(help="Thread ids.")],
    instance: InstanceOpt,
    node: NodeOpt,
    mode: ModeOpt = "connection",
    dry_run: Annotated[bool, typer.Option(help="Show what would be killed (extension).")] = False,
    expect_user: Annotated[
        str | None, typer.Option(help="Kill only if the thread is still this account's.")
    ] = None,
    expect_host: Annotated[str | None, typer.Option(help="… still from this host:port.")] = None,
    expect_info: Annotated[str | None, typer.Option(help="… still running exactly this statement.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """DeleteTaurusDbNodeProcesses; with --mode query, --dry-run or --expect-*, the kill-with-reasons
    extension (per-id outcomes; an id whose thread changed is reported 'changed' and not killed)."""
    expect = {k: v for k, v in {"user": expect_user, "host": expect_host, "info": expect_info}.items() if v}
    with api_client(ctx) as client:
        if mode == "connection" and not dry_run and not expect:
            result = client.delete_taurus_db_node_processes(instance, node, ids)
            if as_json:
                print_json(result)
            else:
                typer.echo(f"killed:    {' '.join(map(str, result['processes_killed'])) or '-'}")
                typer.echo(f"not found: {' '.join(map(str, result['processes_not_found'])) or '-'}")
            return
        processes: list[Any] = [{"id": i, **expect} for i in ids] if expect else list(ids)
        report = client.kill_node_processes(
            instance, node, {"processes": processes, "mode": mode, "dry_run": dry_run}
        )
    print_report(report, as_json)


def print_report(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(report)
        return
    rows = []
    for result in report["results"]:
        process = result.get("process") or {}
        row = (result["id"], result["outcome"], process.get("user", ""), process.get("host", ""))
        rows.append((*row, process.get("command", "")))
    print_table(("ID", "OUTCOME", "USER", "HOST", "COMMAND"), rows)
    counts = ", ".join(f"{k} {v}" for k, v in report["summary"].items() if v)
    matched = f"matched {report['matched']}; " if "matched" in report else ""
    typer.echo(f"{matched}{counts or 'nothing'}{' (dry run)' if report['dry_run'] else ''}", err=True)


@processes_app.command("kill-by-filter")
@filter_options
def processes_kill_by_filter(
    ctx: typer.Context,
    instance: InstanceOpt,
    node: NodeOpt,
    flt: ThreadFilter,
    victims: Annotated[str, typer.Option(help="all, oldest or all-but-oldest.")] = "all",
    max_victims: Annotated[int | None, typer.Option(min=1)] = None,
    mode: ModeOpt = "connection",
    dry_run: Annotated[bool, typer.Option(help="Show the victims, kill nothing.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Kill every user session matching a filter (extension)."""
    body: dict[str, Any] = {"filter": flt.as_dict(), "victims": victims, "mode": mode, "dry_run": dry_run}
    if max_victims is not None:
        body["max_victims"] = max_victims
    with api_client(ctx) as client:
        report = client.kill_node_processes_by_filter(instance, node, body)
    print_report(report, as_json)


@processes_app.command("lock-wait")
def processes_lock_wait(
    ctx: typer.Context,
    instance: InstanceOpt,
    node: NodeOpt,
    pid: Annotated[int, typer.Option(min=1, help="Thread id of the waiting session.")],
    as_json: JsonOpt = False,
) -> None:
    """ShowLockWaitSession: what a waiting session is blocked by."""
    with api_client(ctx) as client:
        answer = client.show_lock_wait_session(instance, node, pid)
    if as_json:
        print_json(answer)
        return
    cause = answer["abnormal_root_cause"]
    if cause["abnormal_type"] != "LOCK_WAIT":
        typer.echo(f"session {pid} is not waiting for a row lock")
        return
    lock = cause["lock_root_cause"]
    echo_safe(f"session {lock['locked_pid']} waits {lock['wait_seconds']}s: {lock['locked_sql']}")
    echo_safe(
        f"  lock     {lock['lock_mode']} on {lock['lock_db']}.{lock['lock_table']} "
        f"index {lock['lock_index']} data {lock['lock_data']}"
    )
    echo_safe(
        f"  blocker  {lock['blocker_pid']} ({lock['blocker_host']}, {lock['blocker_command']}, "
        f"{lock['blocker_state']}, {lock['blocker_age']}s, rows locked {lock['blocker_rows_locked']}, "
        f"modified {lock['blocker_rows_modified']})"
    )
    for statement in lock["blocker_current_sql"]:
        echo_safe(f"           {statement}")
