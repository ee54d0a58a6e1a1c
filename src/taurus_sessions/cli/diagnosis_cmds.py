"""`taurus-sessions diagnosis …`: TaurusDB's Intelligent Diagnosis operations through the API (AK/SK
signed, against this service or Huawei Cloud's): automatic kill tasks, the switch, kill-all, the
kill history, intelligent kill, realtime session collections and autonomous SQL limiting."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from taurus_sessions.cli.common import echo_safe, fail, print_json, print_table
from taurus_sessions.cli.connection import api_client, client_group
from taurus_sessions.cli.processes_cmds import PROCESS_HEADERS, InstanceOpt, JsonOpt, NodeOpt, process_rows

diagnosis_app = client_group(
    "TaurusDB's Intelligent Diagnosis: automatic kill tasks, kill-all, intelligent kill, realtime "
    "session collections."
)
kill_task_app = typer.Typer(help="Automatic kill tasks (every node of an instance, while the switch is ON).")
intelligent_app = typer.Typer(help="Intelligent kill: sessions by SQL template, the top groups killed.")
diagnosis_app.add_typer(kill_task_app, name="kill-task")
realtime_app = typer.Typer(help="Realtime session collections: a node's sessions as a CSV file.")
diagnosis_app.add_typer(intelligent_app, name="intelligent-kill")
sql_limit_app = typer.Typer(
    help="Autonomous SQL limiting: when a primary node is overloaded, its top SELECT is held to a "
    "maximum concurrency for a while."
)
diagnosis_app.add_typer(sql_limit_app, name="sql-limit")
diagnosis_app.add_typer(realtime_app, name="realtime")

Text = Annotated[str | None, typer.Option()]


def _ms(value: int | None) -> str:
    return datetime.fromtimestamp(value / 1000, UTC).isoformat(timespec="seconds") if value else ""


# -- automatic kill tasks ------------------------------------------------------------------------------
@kill_task_app.command("add")
def kill_task_add(
    ctx: typer.Context,
    instance: InstanceOpt,
    time_in_state: Annotated[int, typer.Option("--time", min=1, help="Seconds in state, at least.")],
    duration: Annotated[int, typer.Option(min=1, help="Seconds the task runs.")],
    user: Text = None,
    host: Annotated[str | None, typer.Option(help="Client address (any port unless host:port).")] = None,
    db: Text = None,
    command: Text = None,
    info: Annotated[str | None, typer.Option(help="A substring of the running statement.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """AddKillProcessTask: the conditions are ANDed; exact values (no wildcards)."""
    body: dict[str, Any] = {"time": time_in_state, "task_duration": duration}
    body |= {
        k: v for k, v in {"user": user, "host": host, "db": db, "command": command, "info": info}.items() if v
    }
    with api_client(ctx) as client:
        answer = client.add_kill_process_task(instance, body)
    if as_json:
        print_json(answer)
    else:
        typer.echo(answer["id"])


@kill_task_app.command("list")
def kill_task_list(ctx: typer.Context, instance: InstanceOpt, as_json: JsonOpt = False) -> None:
    """ShowKillProcessTask, newest first."""
    with api_client(ctx) as client:
        answer = client.show_kill_process_task(instance)
    if as_json:
        print_json(answer)
        return
    rows = [
        (p["id"], p["status"], p["user"], p["host"], p["db"], p["command"], p["time"], p["info"],
         p["task_duration"], p["killed_count"], _ms(p["start_time"]), _ms(p["end_time"]))
        for p in answer["processes"]
    ]  # fmt: skip
    headers = (
        "ID",
        "STATUS",
        "USER",
        "HOST",
        "DB",
        "COMMAND",
        "TIME",
        "INFO",
        "DURATION",
        "KILLED",
        "START",
        "END",
    )
    print_table(headers, rows)


@kill_task_app.command("stop")
def kill_task_stop(ctx: typer.Context, task_id: str, instance: InstanceOpt) -> None:
    """StopKillProcessTask."""
    with api_client(ctx) as client:
        client.stop_kill_process_task(instance, task_id)
    typer.echo(f"{task_id} stopped")


@kill_task_app.command("switch")
def kill_task_switch(
    ctx: typer.Context,
    instance: InstanceOpt,
    status: Annotated[str | None, typer.Argument(help="ON or OFF; none: show it.")] = None,
) -> None:
    """UpdateAutoKillProcessStatus (ON/OFF) or, with no argument, ShowKillProcessStatus."""
    with api_client(ctx) as client:
        if status is not None:
            if status.upper() not in ("ON", "OFF"):
                raise typer.BadParameter("ON or OFF", param_hint="status")
            client.update_auto_kill_process_status(instance, status.upper() == "ON")
        typer.echo(client.show_kill_process_status(instance)["status"])


@kill_task_app.command("preview")
def kill_task_preview(
    ctx: typer.Context,
    instance: InstanceOpt,
    time_in_state: Annotated[int, typer.Option("--time", min=1)],
    user: Text = None,
    host: Text = None,
    db: Text = None,
    command: Text = None,
    info: Text = None,
    as_json: JsonOpt = False,
) -> None:
    """ShowKillProcessTaskPreview: what a task with these conditions would kill now."""
    query = {"time": time_in_state, "user": user, "host": host, "db": db, "command": command, "info": info}
    with api_client(ctx) as client:
        answer = client.show_kill_process_task_preview(instance, **query)
    if as_json:
        print_json(answer)
        return
    rows = [
        (p["node_id"][:12], *row)
        for p, row in zip(answer["processes"], process_rows(answer["processes"]), strict=True)
    ]
    print_table(("NODE", *PROCESS_HEADERS), rows)


@kill_task_app.command("history")
def kill_task_history(
    ctx: typer.Context,
    instance: InstanceOpt,
    page: Annotated[int, typer.Option(min=1)] = 1,
    size: Annotated[int, typer.Option(min=1, max=100)] = 20,
    as_json: JsonOpt = False,
) -> None:
    """ShowKillProcessHistory: sessions killed by the tasks and kill-all, newest first."""
    with api_client(ctx) as client:
        answer = client.show_kill_process_history(instance, page_num=page, page_size=size)
    if as_json:
        print_json(answer)
        return
    rows = [
        (
            _ms(h["killed_at"]),
            h["node_id"][:12],
            h["task_id"] or "kill-all",
            h["id"],
            h["user"],
            h["host"],
            h["info"] or "",
        )
        for h in answer["kill_process_histories"]
    ]
    print_table(("KILLED AT", "NODE", "TASK", "ID", "USER", "HOST", "INFO"), rows)
    typer.echo(f"{len(rows)} of {answer['total_count']}", err=True)


@diagnosis_app.command("kill-all")
def kill_all(
    ctx: typer.Context,
    instance: InstanceOpt,
    yes: Annotated[
        bool, typer.Option("--yes", help="Really kill every user session of the instance.")
    ] = False,
) -> None:
    """ExecuteKillAllProcess: every user session of every node (internal threads never)."""
    if not yes:
        typer.echo("this kills every user session of the instance; add --yes to do it", err=True)
        raise typer.Exit(2)
    with api_client(ctx) as client:
        client.execute_kill_all_process(instance)
    typer.echo("killed every user session (see `diagnosis kill-task history`)")


# -- intelligent kill ------------------------------------------------------------------------------------
@intelligent_app.command("preview")
def intelligent_preview(
    ctx: typer.Context, instance: InstanceOpt, node: NodeOpt, as_json: JsonOpt = False
) -> None:
    """ShowIntelligentKillSessionStatistic: the top three SQL-template groups per strategy."""
    with api_client(ctx) as client:
        answer = client.show_intelligent_kill_session_statistic(instance, node)
    if as_json:
        print_json(answer)
        return
    rows = [
        (s["strategy"], s["count"], s["max_time"], s["avg_time"], s["total_time"], s["keyword"])
        for s in answer["statistics"]
    ]
    print_table(("STRATEGY", "COUNT", "MAX S", "AVG S", "TOTAL S", "TEMPLATE"), rows)


@intelligent_app.command("run")
def intelligent_run(
    ctx: typer.Context,
    instance: InstanceOpt,
    node: NodeOpt,
    yes: Annotated[
        bool, typer.Option("--yes", help="Kill the sessions of the groups `preview` shows.")
    ] = False,
) -> None:
    """ExecuteIntelligentKillSession: kill the sessions of those groups, as one task."""
    if not yes:
        typer.echo(
            "this kills the sessions of the groups `intelligent-kill preview` shows; add --yes", err=True
        )
        raise typer.Exit(2)
    with api_client(ctx) as client:
        typer.echo(client.execute_intelligent_kill_session(instance, node)["task_id"])


@intelligent_app.command("history")
def intelligent_history(
    ctx: typer.Context,
    instance: InstanceOpt,
    node: NodeOpt,
    days: Annotated[int, typer.Option(min=1, help="How far back.")] = 7,
    download: Annotated[
        str | None, typer.Option(help="Write this task's killed sessions (CSV) to stdout.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """ListIntelligentKillSessionHistory (and a task's download, with --download TASK_ID)."""
    now = int(time.time() * 1000)
    query = {"node_id": node, "start_time": now - days * 86_400_000, "end_time": now + 1000, "limit": "100"}
    with api_client(ctx) as client:
        answer = client.list_intelligent_kill_session_history(instance, **query)
        if download is not None:
            entry = next(
                (h for h in answer["intelligent_kill_session_histories"] if h["task_id"] == download), None
            )
            if entry is None:
                raise typer.BadParameter(
                    f"no task {download} in the last {days} days", param_hint="--download"
                )
            sys.stdout.write(client.download(entry["download_link"]).decode())
            return
    if as_json:
        print_json(answer)
        return
    rows = [
        (h["task_id"], datetime.fromtimestamp(h["start_time"], UTC).isoformat(timespec="seconds"),
         datetime.fromtimestamp(h["end_time"], UTC).isoformat(timespec="seconds"))
        for h in answer["intelligent_kill_session_histories"]
    ]  # fmt: skip
    print_table(("TASK", "START", "END"), rows)
    echo_safe(f"{len(rows)} of {answer['total_count']}")


# -- autonomous SQL limiting ----------------------------------------------------------------------------
ClockOpt = Annotated[str, typer.Option(help='"hh:mm", 24-hour (the service\'s limiting time zone).')]


@sql_limit_app.command("set")
def sql_limit_set(
    ctx: typer.Context,
    instance: InstanceOpt,
    node: NodeOpt,
    active_sessions: Annotated[int, typer.Option(min=1, max=5000, help="Active sessions, at least.")],
    max_concurrency: Annotated[int, typer.Option(min=0, max=1000000000, help="Executions allowed at once.")],
    start_time: ClockOpt = "00:00",
    end_time: ClockOpt = "23:59",
    condition: Annotated[str, typer.Option(help="and | or: how the two conditions combine.")] = "or",
    cpu_usage: Annotated[int, typer.Option(min=70, max=100, help="CPU usage, percent, at least.")] = 90,
    duration: Annotated[int, typer.Option(min=2, max=60, help="Minutes the conditions must hold.")] = 2,
    clear_time: Annotated[int, typer.Option(min=1, max=1440, help="Minutes a limit lasts.")] = 5,
    retain_sql_rule: Annotated[bool, typer.Option(help="Keep existing SQL limiting rules.")] = True,
    wait: Annotated[bool, typer.Option(help="Wait for the job (ShowGaussMySqlJobInfo).")] = True,
) -> None:
    """SetAutoSqlLimiting on a primary node (switch on, or change: a change starts over)."""
    if condition not in ("and", "or"):
        raise typer.BadParameter("and or or", param_hint="--condition")
    rule = {
        "node_id": node,
        "start_time": start_time,
        "end_time": end_time,
        "condition": condition,
        "cpu_usage": cpu_usage,
        "active_sessions": active_sessions,
        "clear_time": clear_time,
        "duration": duration,
        "max_concurrency": max_concurrency,
        "retain_sql_rule": retain_sql_rule,
    }
    with api_client(ctx) as client:
        job_id = client.set_auto_sql_limiting(instance, [rule])["job_id"]
        status = "Running"
        while wait and status in ("Pending", "Running"):
            status = client.show_gauss_my_sql_job_info(job_id)["job"]["status"]
            if status in ("Pending", "Running"):
                time.sleep(1)
    typer.echo(f"{job_id} {status}" if wait else job_id)


@sql_limit_app.command("show")
def sql_limit_show(
    ctx: typer.Context, instance: InstanceOpt, node: NodeOpt, as_json: JsonOpt = False
) -> None:
    """ShowSqlAutoSqlLimiting: the rule, what the limiter last saw, the limits in force."""
    with api_client(ctx) as client:
        answer = client.show_sql_auto_sql_limiting(instance, [node])
    if as_json:
        print_json(answer)
        return
    rules = answer["auto_sql_limiting_rules"]
    if not rules:
        typer.echo("auto SQL limiting is off on this node")
        return
    for rule in rules:
        cpu_now = "?" if rule.get("cpu_usage_now") is None else f"{rule['cpu_usage_now']}%"
        echo_safe(
            f"{rule['start_time']}-{rule['end_time']}: CPU >= {rule['cpu_usage']}% {rule['condition']} "
            f"active sessions >= {rule['active_sessions']} for {rule['duration']} min -> "
            f"limit to {rule['max_concurrency']} for {rule['clear_time']} min"
        )
        echo_safe(
            f"state {rule.get('state')}; CPU {cpu_now} ({rule.get('cpu_source')}, "
            f"{rule.get('cpu_condition')}); active sessions {rule.get('active_sessions_now')}"
        )
        if rule.get("note"):
            echo_safe(f"note: {rule['note']}")
        if rule.get("minute_seconds") not in (None, 60, 60.0):
            echo_safe(f"one minute of the rule is {rule['minute_seconds']}s on this service")
        limits = [
            (
                lim["pattern"],
                lim["max_concurrency"],
                _ms(lim["create_at"]),
                _ms(lim["expire_at"]),
                lim["stopped"],
            )
            for lim in rule.get("active_limits", [])
        ]
        if limits:
            print_table(("LIMITED SQL", "MAX", "SINCE", "UNTIL", "STOPPED"), limits)


@sql_limit_app.command("delete")
def sql_limit_delete(ctx: typer.Context, instance: InstanceOpt, node: NodeOpt) -> None:
    """DeleteAutoSqlLimiting: switch it off on the node (its limits in force end)."""
    with api_client(ctx) as client:
        client.delete_auto_sql_limiting(instance, node)
    typer.echo("auto SQL limiting is off on this node")


@sql_limit_app.command("log")
def sql_limit_log(ctx: typer.Context, instance: InstanceOpt, node: NodeOpt, as_json: JsonOpt = False) -> None:
    """ShowAutoSqlLimitingLog: the limits made on the node, newest first."""
    with api_client(ctx) as client:
        answer = client.show_auto_sql_limiting_log(instance, node)
    if as_json:
        print_json(answer)
        return
    rows = [
        (_ms(log["create_at"]), _ms(log["ended_at"] or log["expire_at"]), log["pattern"],
         log["max_concurrency"], log.get("stopped", ""), log.get("end_reason") or "")
        for log in answer["logs"]
    ]  # fmt: skip
    print_table(("CREATED", "ENDS", "PATTERN", "MAX", "STOPPED", "ENDED EARLY"), rows)


# -- realtime session collections ------------------------------------------------------------------------
RealtimeFilter = Literal["total", "active", "slow", "long"]
RealtimeCommand = Literal["Sleep", "Query", "Connect", "Init DB", "Field List", "Processlist"]
RealtimeSortKey = Literal[
    "id",
    "state_duration",
    "trx_executed_time",
    "trx_id",
    "trx_lock_duration",
    "trx_lock_rows",
    "trx_lock_tables",
    "trx_update_rows",
]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="File to write the CSV to (default: stdout).")
]
POLL_SECONDS = 0.5


@realtime_app.command("collect")
def realtime_collect(
    ctx: typer.Context,
    instance: InstanceOpt,
    node: NodeOpt,
    kind: Annotated[
        RealtimeFilter,
        typer.Option("--filter", help="total, active (not Sleep), slow, long (transactions)."),
    ] = "total",
    threshold: Annotated[
        int, typer.Option(min=1, max=86400, help="Seconds, for --filter slow and long.")
    ] = 10,
    user: Annotated[str | None, typer.Option(help="Account, exactly.")] = None,
    host: Annotated[str | None, typer.Option(help="Client host (any port unless host:port).")] = None,
    db: Annotated[str | None, typer.Option(help="Current database, exactly.")] = None,
    command: Annotated[RealtimeCommand | None, typer.Option(help="Command, exactly.")] = None,
    sql_key: Annotated[str | None, typer.Option(help="Text the statement contains.")] = None,
    sort_key: Annotated[RealtimeSortKey, typer.Option()] = "id",
    desc: Annotated[bool, typer.Option("--desc", help="Sort descending.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until the collection has ended.")] = False,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds --wait waits at most.")] = 120,
) -> None:
    """CollectRealtimeSession: prints the request id (with --wait, once the collection finished)."""
    body: dict[str, Any] = {"filter": kind, "slow_process_threshold": threshold, "sort_key": sort_key}
    optional = {"user": user, "host": host, "db": db, "command": command, "sql_key": sql_key}
    body |= {k: v for k, v in optional.items() if v is not None}
    if desc:
        body["sort_dir"] = "desc"
    with api_client(ctx) as client:
        request_id = str(client.collect_realtime_session(instance, node, body)["request_id"])
        if not wait:
            typer.echo(request_id)
            return
        deadline = time.monotonic() + timeout
        status = "running"
        while status == "running" and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            status = client.show_realtime_session_task_status(instance, node, request_id)["status"]
    if status != "finished":
        fail(f"collection {request_id} is {status}")
    typer.echo(request_id)


@realtime_app.command("status")
def realtime_status(ctx: typer.Context, request_id: str, instance: InstanceOpt, node: NodeOpt) -> None:
    """ShowRealtimeSessionTaskStatus: running, finished, error or unrecognized."""
    with api_client(ctx) as client:
        typer.echo(client.show_realtime_session_task_status(instance, node, request_id)["status"])


@realtime_app.command("download")
def realtime_download(
    ctx: typer.Context, request_id: str, instance: InstanceOpt, node: NodeOpt, output: OutputOpt = None
) -> None:
    """DownloadRealtimeSession: the file of a finished collection (CSV with a header row)."""
    with api_client(ctx) as client:
        body = client.download_realtime_session(instance, node, request_id)
    if output is None or str(output) == "-":
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        return
    output.write_bytes(body)
    typer.echo(f"wrote {len(body)} bytes to {output}", err=True)
