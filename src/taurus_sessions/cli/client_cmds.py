"""Client commands: call the session API (this service or Huawei Cloud's) signed with AK/SK."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from taurus_sessions.cli.api_client import ApiCallError, ClientConfigError, SessionApiClient, load_profile
from taurus_sessions.cli.common import fail, print_json, print_table

processes_app = typer.Typer(help="List and kill sessions of a node through the API (AK/SK signed).")
task_app = typer.Typer(help="Kill tasks through the API (taurus-sessions extension).")

ProfileOpt = Annotated[
    str | None, typer.Option(help="Profile name in the profiles file (default: [default]).")
]
EndpointOpt = Annotated[
    str | None, typer.Option(help="API endpoint, e.g. http://127.0.0.1:8080 (or TAURUS_ENDPOINT).")
]
ProjectOpt = Annotated[
    str | None, typer.Option("--project-id", help="Project id (or HUAWEICLOUD_SDK_PROJECT_ID).")
]
RegionOpt = Annotated[str | None, typer.Option(help="Region (project name) to resolve the project id from.")]
IamOpt = Annotated[str | None, typer.Option(help="IAM endpoint for that lookup (default: the API endpoint).")]
ProfilesFileOpt = Annotated[
    Path | None, typer.Option(help="Profiles file (default ~/.config/taurus-sessions/profiles.toml).")
]
InstanceOpt = Annotated[str, typer.Option("--instance", help="Instance id (…in07).")]
NodeOpt = Annotated[str, typer.Option("--node", help="Node id (…no07).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer.")]
Text = Annotated[str | None, typer.Option()]


@contextmanager
def api_client(
    profile: str | None,
    endpoint: str | None,
    project_id: str | None,
    region: str | None,
    iam_endpoint: str | None,
    profiles_file: Path | None,
) -> Iterator[SessionApiClient]:
    try:
        loaded = load_profile(
            profile,
            endpoint=endpoint,
            project_id=project_id,
            region=region,
            iam_endpoint=iam_endpoint,
            profiles_file=profiles_file,
        )
        with SessionApiClient(loaded) as client:
            yield client
    except ClientConfigError as exc:
        fail(str(exc), code=2)
    except ApiCallError as exc:
        fail(f"{exc.code}: {exc.message} (HTTP {exc.status}, request id {exc.request_id})")


def _filter(
    user: str | None,
    host: str | None,
    db: str | None,
    command: str | None,
    state: str | None,
    info: str | None,
    min_time: int | None,
    idle_in_trx: bool,
) -> dict[str, Any]:
    flt: dict[str, Any] = {
        "user": user,
        "host": host,
        "db": db,
        "command": command,
        "state": state,
        "info": info,
    }
    flt["min_time"] = min_time
    flt = {k: v for k, v in flt.items() if v is not None}
    if idle_in_trx:
        flt["idle_in_trx"] = True
    return flt


def _process_rows(processes: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    def clip(text: str | None) -> str:
        flat = " ".join((text or "").split())
        return flat if len(flat) <= 60 else flat[:57] + "..."

    return [
        (
            p["id"],
            p["user"],
            p["host"],
            p["db"] or "",
            p["command"],
            p["time"],
            p["state"] or "",
            clip(p["info"]),
        )
        for p in processes
    ]


PROCESS_HEADERS = ("ID", "USER", "HOST", "DB", "COMMAND", "TIME", "STATE", "INFO")


@processes_app.command("list")
def processes_list(
    instance: InstanceOpt,
    node: NodeOpt,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 100,
    all_pages: Annotated[bool, typer.Option("--all", help="Page through every session.")] = False,
    user: Text = None,
    host: Text = None,
    db: Text = None,
    command: Text = None,
    state: Text = None,
    info: Text = None,
    min_time: Annotated[int | None, typer.Option(min=0)] = None,
    idle_in_trx: Annotated[bool, typer.Option()] = False,
    sort: Annotated[str | None, typer.Option(help="id, time or user (extension).")] = None,
    order: Annotated[str | None, typer.Option(help="asc or desc (extension).")] = None,
    as_json: JsonOpt = False,
    profile: ProfileOpt = None,
    endpoint: EndpointOpt = None,
    project_id: ProjectOpt = None,
    region: RegionOpt = None,
    iam_endpoint: IamOpt = None,
    profiles_file: ProfilesFileOpt = None,
) -> None:
    """ListTaurusDbNodeProcesses (filters are extensions; Huawei's endpoint ignores them)."""
    query = _filter(user, host, db, command, state, info, min_time, idle_in_trx)
    query |= {k: v for k, v in {"sort": sort, "order": order}.items() if v}
    with api_client(profile, endpoint, project_id, region, iam_endpoint, profiles_file) as client:
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
    print_table(PROCESS_HEADERS, _process_rows(processes))
    typer.echo(f"{len(processes)} of {total} sessions", err=True)


@processes_app.command("kill")
def processes_kill(
    ids: Annotated[list[int], typer.Argument(help="Thread ids.")],
    instance: InstanceOpt,
    node: NodeOpt,
    mode: Annotated[str, typer.Option(help="connection or query (query: extension).")] = "connection",
    dry_run: Annotated[bool, typer.Option(help="Show what would be killed (extension).")] = False,
    expect_user: Annotated[
        str | None, typer.Option(help="Kill only if the thread is still this account's.")
    ] = None,
    expect_host: Annotated[str | None, typer.Option(help="… still from this host:port.")] = None,
    expect_info: Annotated[str | None, typer.Option(help="… still running exactly this statement.")] = None,
    as_json: JsonOpt = False,
    profile: ProfileOpt = None,
    endpoint: EndpointOpt = None,
    project_id: ProjectOpt = None,
    region: RegionOpt = None,
    iam_endpoint: IamOpt = None,
    profiles_file: ProfilesFileOpt = None,
) -> None:
    """DeleteTaurusDbNodeProcesses; with --mode query, --dry-run or --expect-*, the kill-with-reasons
    extension (per-id outcomes; an id whose thread changed is reported 'changed' and not killed)."""
    expect = {k: v for k, v in {"user": expect_user, "host": expect_host, "info": expect_info}.items() if v}
    with api_client(profile, endpoint, project_id, region, iam_endpoint, profiles_file) as client:
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
    _print_report(report, as_json)


def _print_report(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(report)
        return
    rows = []
    for result in report["results"]:
        process = result.get("process") or {}
        rows.append(
            (
                result["id"],
                result["outcome"],
                process.get("user", ""),
                process.get("host", ""),
                process.get("command", ""),
            )
        )
    print_table(("ID", "OUTCOME", "USER", "HOST", "COMMAND"), rows)
    counts = ", ".join(f"{k} {v}" for k, v in report["summary"].items() if v)
    matched = f"matched {report['matched']}; " if "matched" in report else ""
    typer.echo(f"{matched}{counts or 'nothing'}{' (dry run)' if report['dry_run'] else ''}", err=True)


@processes_app.command("kill-by-filter")
def processes_kill_by_filter(
    instance: InstanceOpt,
    node: NodeOpt,
    user: Text = None,
    host: Text = None,
    db: Text = None,
    command: Text = None,
    state: Text = None,
    info: Text = None,
    min_time: Annotated[int | None, typer.Option(min=0)] = None,
    idle_in_trx: Annotated[bool, typer.Option()] = False,
    victims: Annotated[str, typer.Option(help="all, oldest or all-but-oldest.")] = "all",
    max_victims: Annotated[int | None, typer.Option(min=1)] = None,
    mode: Annotated[str, typer.Option(help="connection or query.")] = "connection",
    dry_run: Annotated[bool, typer.Option(help="Show the victims, kill nothing.")] = False,
    as_json: JsonOpt = False,
    profile: ProfileOpt = None,
    endpoint: EndpointOpt = None,
    project_id: ProjectOpt = None,
    region: RegionOpt = None,
    iam_endpoint: IamOpt = None,
    profiles_file: ProfilesFileOpt = None,
) -> None:
    """Kill every user session matching a filter (extension)."""
    body: dict[str, Any] = {
        "filter": _filter(user, host, db, command, state, info, min_time, idle_in_trx),
        "victims": victims,
        "mode": mode,
        "dry_run": dry_run,
    }
    if max_victims is not None:
        body["max_victims"] = max_victims
    with api_client(profile, endpoint, project_id, region, iam_endpoint, profiles_file) as client:
        report = client.kill_node_processes_by_filter(instance, node, body)
    _print_report(report, as_json)


def lock_wait(
    instance: InstanceOpt,
    node: NodeOpt,
    pid: Annotated[int, typer.Option(min=1, help="Thread id of the waiting session.")],
    as_json: JsonOpt = False,
    profile: ProfileOpt = None,
    endpoint: EndpointOpt = None,
    project_id: ProjectOpt = None,
    region: RegionOpt = None,
    iam_endpoint: IamOpt = None,
    profiles_file: ProfilesFileOpt = None,
) -> None:
    """ShowLockWaitSession: what a waiting session is blocked by."""
    with api_client(profile, endpoint, project_id, region, iam_endpoint, profiles_file) as client:
        answer = client.show_lock_wait_session(instance, node, pid)
    if as_json:
        print_json(answer)
        return
    cause = answer["abnormal_root_cause"]
    if cause["abnormal_type"] != "LOCK_WAIT":
        typer.echo(f"session {pid} is not waiting for a row lock")
        return
    lock = cause["lock_root_cause"]
    typer.echo(f"session {lock['locked_pid']} waits {lock['wait_seconds']}s: {lock['locked_sql']}")
    typer.echo(
        f"  lock     {lock['lock_mode']} on {lock['lock_db']}.{lock['lock_table']} "
        f"index {lock['lock_index']} data {lock['lock_data']}"
    )
    typer.echo(
        f"  blocker  {lock['blocker_pid']} ({lock['blocker_host']}, {lock['blocker_command']}, "
        f"{lock['blocker_state']}, {lock['blocker_age']}s, rows locked {lock['blocker_rows_locked']}, "
        f"modified {lock['blocker_rows_modified']})"
    )
    for statement in lock["blocker_current_sql"]:
        typer.echo(f"           {statement}")


# -- kill tasks -------------------------------------------------------------------------------------
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


TASK_HEADERS = ("ID", "NAME", "STATE", "NODE", "FILTER", "PASSES", "KILLED", "ENDS")


@task_app.command("create")
def task_create(
    instance: InstanceOpt,
    node: NodeOpt,
    user: Text = None,
    host: Text = None,
    db: Text = None,
    command: Text = None,
    state: Text = None,
    info: Text = None,
    min_time: Annotated[int | None, typer.Option(min=0)] = None,
    idle_in_trx: Annotated[bool, typer.Option()] = False,
    interval: Annotated[int, typer.Option(min=1, max=3600, help="Seconds between passes.")] = 5,
    duration: Annotated[int | None, typer.Option(min=1, help="Seconds to run (default 600).")] = None,
    until_stopped: Annotated[bool, typer.Option(help="Run until stopped.")] = False,
    victims: Annotated[str, typer.Option()] = "all",
    max_victims_per_pass: Annotated[int | None, typer.Option(min=1)] = None,
    mode: Annotated[str, typer.Option()] = "connection",
    name: Annotated[str, typer.Option()] = "",
    as_json: JsonOpt = False,
    profile: ProfileOpt = None,
    endpoint: EndpointOpt = None,
    project_id: ProjectOpt = None,
    region: RegionOpt = None,
    iam_endpoint: IamOpt = None,
    profiles_file: ProfilesFileOpt = None,
) -> None:
    body: dict[str, Any] = {
        "name": name or None,
        "filter": _filter(user, host, db, command, state, info, min_time, idle_in_trx),
        "interval_seconds": interval,
        "victims": victims,
        "mode": mode,
    }
    if until_stopped:
        body["duration_seconds"] = None
    elif duration is not None:
        body["duration_seconds"] = duration
    if max_victims_per_pass is not None:
        body["max_victims_per_pass"] = max_victims_per_pass
    body = {k: v for k, v in body.items() if v is not None or k == "duration_seconds"}
    with api_client(profile, endpoint, project_id, region, iam_endpoint, profiles_file) as client:
        task = client.create_kill_task(instance, node, body)["task"]
    if as_json:
        print_json(task)
    else:
        typer.echo(task["id"])


def _simple(
    run: Callable[[SessionApiClient], dict[str, Any]],
    as_json: bool,
    render: Callable[[dict[str, Any]], None],
    profile: str | None,
    endpoint: str | None,
    project_id: str | None,
    profiles_file: Path | None,
) -> None:
    with api_client(profile, endpoint, project_id, None, None, profiles_file) as client:
        answer = run(client)
    if as_json:
        print_json(answer)
    else:
        render(answer)


@task_app.command("list")
def task_list(
    state: Annotated[str | None, typer.Option(help="running, stopped, finished or failed.")] = None,
    as_json: JsonOpt = False,
    profile: ProfileOpt = None,
    endpoint: EndpointOpt = None,
    project_id: ProjectOpt = None,
    profiles_file: ProfilesFileOpt = None,
) -> None:
    _simple(
        lambda c: c.list_kill_tasks(state=state),
        as_json,
        lambda a: print_table(TASK_HEADERS, _task_rows(a["tasks"])),
        profile,
        endpoint,
        project_id,
        profiles_file,
    )


@task_app.command("show")
def task_show(
    task_id: str,
    as_json: JsonOpt = False,
    profile: ProfileOpt = None,
    endpoint: EndpointOpt = None,
    project_id: ProjectOpt = None,
    profiles_file: ProfilesFileOpt = None,
) -> None:
    def render(answer: dict[str, Any]) -> None:
        print_table(TASK_HEADERS, _task_rows([answer["task"]]))
        if answer["task"]["last_error"]:
            typer.echo(f"last error: {answer['task']['last_error']}")
        victims = [
            (v["at"][:19], v["id"], v["outcome"], v.get("user"), v.get("host"))
            for v in answer["recent_victims"]
        ]
        if victims:
            typer.echo("")
            print_table(("AT", "ID", "OUTCOME", "USER", "HOST"), victims)

    _simple(
        lambda c: c.show_kill_task(task_id), as_json, render, profile, endpoint, project_id, profiles_file
    )


@task_app.command("stop")
def task_stop(
    task_id: str,
    as_json: JsonOpt = False,
    profile: ProfileOpt = None,
    endpoint: EndpointOpt = None,
    project_id: ProjectOpt = None,
    profiles_file: ProfilesFileOpt = None,
) -> None:
    _simple(
        lambda c: c.stop_kill_task(task_id),
        as_json,
        lambda a: typer.echo(f"{a['task']['id']} {a['task']['state']}"),
        profile,
        endpoint,
        project_id,
        profiles_file,
    )
