"""Where a request is parsed: path ids, bodies. Nothing a caller sends goes further unparsed."""

from __future__ import annotations

from typing import Any

import orjson

from taurus_sessions import ids
from taurus_sessions.errors import EmptyRequest, ParameterError
from taurus_sessions.services.node_access import NodeRef

FAITHFUL_MAX_IDS = 20


def node_ref(project_id: str, instance_id: str, node_id: str) -> NodeRef:
    return NodeRef(
        ids.check_project_id(project_id), ids.check_instance_id(instance_id), ids.check_node_id(node_id)
    )


def check_content_type(content_type: str | None) -> None:
    """JSON, with or without a charset; no Content-Type at all is read as JSON too."""
    if content_type is None or not content_type.strip():
        return
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise ParameterError("Content-Type must be application/json")


def json_object(body: bytes, content_type: str | None) -> dict[str, Any]:
    if not body.strip():
        raise EmptyRequest()
    check_content_type(content_type)
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ParameterError("the body is not valid JSON") from exc
    if not isinstance(document, dict):
        raise ParameterError("the body must be a JSON object")
    return document


def thread_id(value: Any, where: str) -> int:
    # bool is an int subclass in Python; JSON true is not a thread id.
    if type(value) is not int or not 0 <= value <= ids.MAX_THREAD_ID:
        raise ParameterError(f"{where} must be an integer from 0 to 2^63-1")
    return value


def thread_ids(value: Any, *, where: str = "processes", max_items: int = FAITHFUL_MAX_IDS) -> list[int]:
    if not isinstance(value, list):
        raise ParameterError(f"{where} must be an array of integers")
    if not 1 <= len(value) <= max_items:
        raise ParameterError(f"{where} must hold 1 to {max_items} ids")
    return [thread_id(item, f"{where}[{index}]") for index, item in enumerate(value)]


def delete_processes_body(body: bytes, content_type: str | None) -> list[int]:
    document = json_object(body, content_type)
    if "processes" not in document:
        raise ParameterError("processes is required")
    return thread_ids(document["processes"])
