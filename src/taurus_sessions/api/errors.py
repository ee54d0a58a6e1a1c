"""The one place that turns exceptions into error bodies (catalogue errors, IAM errors, routing)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from taurus_sessions.api.responses import api_error_response, iam_error_response
from taurus_sessions.errors import ApiError, ApiNotFound, IamError, InventoryUnavailable, ParameterError
from taurus_sessions.language import Language

log = logging.getLogger(__name__)


def language_of(request: Request) -> Language:
    return Language.from_header(request.headers.get("x-language"))


async def on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if exc.status >= 500:
        log.error("answered %s", exc.code, extra={"path": request.url.path, "cause": repr(exc.__cause__)})
    return api_error_response(exc, language_of(request))


async def on_iam_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, IamError)
    return iam_error_response(exc)


async def on_inventory_error(request: Request, exc: Exception) -> Response:
    """The inventory (SQLite file, PostgreSQL server) failed under a call: the catalogue's answer,
    the cause in the log line (SQL values hidden: the engines are built with hide_parameters)."""
    log.error("the inventory failed", extra={"path": request.url.path, "cause": repr(exc)[:500]})
    return api_error_response(InventoryUnavailable(), language_of(request))


async def on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    detail = "invalid request"
    errors = exc.errors()
    if errors:
        first = errors[0]
        where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("query", "path"))
        detail = f"{where}: {first.get('msg', 'invalid value')}"
    return api_error_response(ParameterError(detail), language_of(request))


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (404, 405):
        return api_error_response(ApiNotFound(), language_of(request))
    return api_error_response(ParameterError(), language_of(request))


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(IamError, on_iam_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(SQLAlchemyError, on_inventory_error)
    app.add_exception_handler(ConnectionError, on_inventory_error)  # a driver's connect, unwrapped
