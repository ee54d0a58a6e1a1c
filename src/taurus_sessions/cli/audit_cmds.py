"""The audit trail from the command line: list with filters, export as JSON lines or CSV."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from taurus_sessions.cli.common import fail, print_table, with_inventory
from taurus_sessions.cli.connection import api_client, client_group
from taurus_sessions.csv_export import to_csv
from taurus_sessions.inventory.audit_events import AuditQuery
from taurus_sessions.inventory.database import Inventory
from taurus_sessions.services.audit_reader import event_dict

audit_app = client_group(
    "The audit trail of kills and refused kills (the local inventory, or the API with --api)."
)


class Format(StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


CSV_FIELDS = (
    "id", "at", "request_id", "action", "project_id", "instance_id", "node_id", "actor_kind",
    "actor_name", "access_key", "task_id", "source_ip", "mode", "dry_run", "outcome", "http_status",
    "error_code", "requested", "results", "occurrences", "last_at",
)  # fmt: skip


def _parse_time(value: str | None, what: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--{what} must be an ISO time, e.g. 2026-11-28T10:00:00Z")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def render(events: Sequence[dict[str, Any]], fmt: Format) -> str:
    if fmt is Format.json:
        return orjson.dumps(list(events), option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt is Format.jsonl:
        return "".join(orjson.dumps(e).decode() + "\n" for e in events)
    return to_csv(CSV_FIELDS, events)


def _query_api(ctx: typer.Context, query: AuditQuery, everything: bool) -> list[dict[str, Any]]:
    collected: list[dict[str, Any]] = []
    params: dict[str, Any] = {
        "instance_id": query.instance_id,
        "node_id": query.node_id,
        "actor": query.actor,
        "outcome": query.outcome,
        "since": query.since.isoformat() if query.since else None,
        "until": query.until.isoformat() if query.until else None,
        "limit": query.limit,
    }
    with api_client(ctx) as client:
        offset = query.offset
        while True:
            page = client.list_audit_events(offset=offset, **params)
            collected.extend(page["events"])
            offset += len(page["events"])
            if not everything or not page["events"] or offset >= page["total_count"]:
                return collected


def _query_all(query: AuditQuery, everything: bool, ctx: typer.Context | None) -> list[dict[str, Any]]:
    if ctx is not None:
        return _query_api(ctx, query, everything)

    async def work(inv: Inventory) -> list[dict[str, Any]]:
        collected: list[dict[str, Any]] = []
        offset = query.offset
        while True:
            rows, total = await inv.audit.query(dataclasses.replace(query, offset=offset))
            collected.extend(event_dict(row) for row in rows)
            offset += len(rows)
            if not everything or not rows or offset >= total:
                return collected

    return with_inventory(work)


ProjectFilterOpt = Annotated[str | None, typer.Option(help="Project id (local inventory only).")]
ApiFlag = Annotated[
    bool, typer.Option("--api", help="Read through the API (AK/SK) instead of the local inventory.")
]
NodeOpt = Annotated[str | None, typer.Option(help="Node id.")]
InstanceOpt = Annotated[str | None, typer.Option(help="Instance id.")]
ActorOpt = Annotated[
    str | None, typer.Option(help="User name (domain/name), user id, access key or task id.")
]
OutcomeOpt = Annotated[str | None, typer.Option(help="ok, refused, failed, pending or interrupted.")]
SinceOpt = Annotated[str | None, typer.Option(help="From this time (ISO 8601, inclusive).")]
UntilOpt = Annotated[str | None, typer.Option(help="Up to this time (ISO 8601, exclusive).")]


def _query(
    project: str | None,
    instance: str | None,
    node: str | None,
    actor: str | None,
    outcome: str | None,
    since: str | None,
    until: str | None,
    offset: int,
    limit: int,
) -> AuditQuery:
    return AuditQuery(
        project_id=project,
        instance_id=instance,
        node_id=node,
        actor=actor,
        outcome=outcome,
        since=_parse_time(since, "since"),
        until=_parse_time(until, "until"),
        offset=offset,
        limit=limit,
    )


@audit_app.command("list")
def audit_list(
    ctx: typer.Context,
    project: ProjectFilterOpt = None,
    instance: InstanceOpt = None,
    node: NodeOpt = None,
    actor: ActorOpt = None,
    outcome: OutcomeOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    fmt: Annotated[Format, typer.Option("--format")] = Format.table,
    api: ApiFlag = False,
) -> None:
    """Newest first. Reads the local inventory, or with --api the service's API (AK/SK signed)."""
    events = _query_all(
        _query(project, instance, node, actor, outcome, since, until, offset, limit),
        False,
        ctx if api else None,
    )
    if fmt is not Format.table:
        sys.stdout.write(render(events, fmt))
        return
    rows = [
        (
            e["id"],
            e["at"][:19],
            e["action"],
            e["actor_name"] or e["actor_kind"],
            e["source_ip"],
            (e["node_id"] or "")[:12],
            e["outcome"],
            e["error_code"] or "",
            " ".join(f"{r['id']}:{r['outcome']}" for r in e["results"])[:60],
        )
        for e in events
    ]
    print_table(("ID", "AT (UTC)", "ACTION", "ACTOR", "FROM", "NODE", "OUTCOME", "CODE", "RESULTS"), rows)


@audit_app.command("export")
def audit_export(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write ('-' for stdout).")],
    fmt: Annotated[Format, typer.Option("--format")] = Format.jsonl,
    project: ProjectFilterOpt = None,
    instance: InstanceOpt = None,
    node: NodeOpt = None,
    actor: ActorOpt = None,
    outcome: OutcomeOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    api: ApiFlag = False,
) -> None:
    """Every matching record (all pages), as JSON lines (default), JSON or CSV."""
    if fmt is Format.table:
        fail("export writes jsonl, json or csv")
    query = _query(project, instance, node, actor, outcome, since, until, 0, 1000)
    events = _query_all(query, True, ctx if api else None)
    text = render(events, fmt)
    if str(output) == "-":
        sys.stdout.write(text)
    else:
        output.write_text(text)
        typer.echo(f"wrote {len(events)} records to {output}", err=True)
