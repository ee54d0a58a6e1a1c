"""The hot operations, served without FastAPI's routing and parameter machinery.

ListTaurusDbNodeProcesses and DeleteTaurusDbNodeProcesses are what clients call most, and on a node
with a hundred sessions FastAPI's per-request work (walking the routes, building and validating the
parameter models, the middleware stack) cost more than the node's answer. This layer, just inside
``RequestContextMiddleware`` (request id, throttle, access log and metrics still apply), takes the
requests it can serve exactly as the routes would and passes every other one on:

- the list call with no query string, or only ``offset`` and ``limit`` given once each as plain
  digits within their ranges (anything else — the extension filters, a value FastAPI would refuse —
  goes to the route, which answers it or names the fault);
- the faithful DELETE without a query string (its route takes no parameters: it reads the body
  itself; a query string, which the route ignores, leaves the call to the route).

Both run the route's own code (``api/processes.py``) in the same order — authentication, then the
path ids, then the work — and answer errors through the app's own exception handlers, so an answer
never depends on which path served it. The routes stay declared in FastAPI: they document the API
and serve whatever this layer passes on.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from taurus_sessions.api import processes
from taurus_sessions.api.requests import authenticate
from taurus_sessions.domain import ListQuery
from taurus_sessions.ids import MAX_THREAD_ID

_NODE_PROCESSES = re.compile(r"/v3/([^/]+)/instances/([^/]+)/nodes/([^/]+)/processes")
_MAX_DIGITS = len(str(MAX_THREAD_ID))
_DEFAULT_QUERY = ListQuery()

ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]


def list_query(raw: bytes) -> ListQuery | None:
    """The query of a list call this layer serves, or None to leave the call to its route."""
    if not raw:
        return _DEFAULT_QUERY
    offset, limit = 0, 100
    seen: set[bytes] = set()
    for part in raw.split(b"&"):
        name, sep, value = part.partition(b"=")
        if not sep or name in seen or not value.isdigit() or len(value) > _MAX_DIGITS:
            return None
        seen.add(name)
        number = int(value)
        if name == b"offset" and number <= MAX_THREAD_ID:
            offset = number
        elif name == b"limit" and 1 <= number <= 100:
            limit = number
        else:
            return None
    return ListQuery(offset, limit)


async def _list(
    request: Request, project_id: str, instance_id: str, node_id: str, query: ListQuery
) -> Response:
    # The route's order: who is calling (its dependency), then the path ids and the work.
    caller = await authenticate(request, b"", project_id)
    return await processes.list_response(request, caller, project_id, instance_id, node_id, query)


class FastRoutes:
    def __init__(self, app: ASGIApp, *, api: FastAPI) -> None:
        self.app = app
        self._api = api
        self._routes: dict[str, APIRoute] | None = None

    def _route(self, operation_id: str) -> APIRoute:
        """The declared route (what ``scope["route"]`` names for the metrics, as FastAPI sets it)."""
        if self._routes is None:
            self._routes = {
                route.operation_id: route for route in _api_routes(self._api.routes) if route.operation_id
            }
        return self._routes[operation_id]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            path: str = scope["path"]
            if path.endswith("/processes"):
                match = _NODE_PROCESSES.fullmatch(path)
                method = scope["method"]
                if match is not None and method == "GET":
                    query = list_query(scope["query_string"])
                    if query is not None:
                        scope["route"] = self._route("ListTaurusDbNodeProcesses")
                        await self._serve(scope, receive, send, _list, (*match.groups(), query))
                        return
                elif match is not None and method == "DELETE" and not scope["query_string"]:
                    scope["route"] = self._route("DeleteTaurusDbNodeProcesses")
                    handler = processes.delete_taurus_db_node_processes
                    await self._serve(scope, receive, send, handler, match.groups())
                    return
        await self.app(scope, receive, send)

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        handler: Callable[..., Awaitable[Response]],
        arguments: tuple[Any, ...],
    ) -> None:
        request = Request(scope, receive)
        try:
            response = await handler(request, *arguments)
        except Exception as exc:
            on_error = _handler_for(exc, self._api.exception_handlers)
            if on_error is None:
                raise  # RequestContextMiddleware answers DBS.108000, as for any route
            response = await on_error(request, exc)
        await response(scope, receive, send)


def _api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)  # FastAPI keeps included routers whole
        if included is not None:
            yield from _api_routes(included.routes)


def _handler_for(exc: Exception, handlers: Mapping[Any, Callable[..., Any]]) -> ExceptionHandler | None:
    """The app's handler for ``exc`` (the most specific class first, as Starlette looks it up)."""
    for cls in type(exc).__mro__:
        if cls in handlers:
            found: ExceptionHandler = handlers[cls]
            return found
    return None
