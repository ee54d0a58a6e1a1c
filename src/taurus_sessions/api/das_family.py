"""What DAS's routes share (contract Part G): their errors in DAS's family, their path ids, their
bodies.

Every DAS route is a ``DasRoute``: whatever it raises — a DAS error, an error of the shared layers
(authorization, the inventory, a node), invalid parameters — leaves it as a row of DAS's catalogue,
then the one renderer (``api/errors.py``) writes it. The gateway's own answers (APIGW codes:
authentication, throttling, size, routing) stay what they are for both families, as Huawei's
gateway sits in front of both services.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

from fastapi import Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import Response

from taurus_sessions import errors, ids
from taurus_sessions.api.requests import check_content_type, describe
from taurus_sessions.errors import (
    ApiError,
    DasDbUserIdInvalid,
    DasError,
    DasInstanceIdInvalid,
    DasParameterError,
    DasProjectIdInvalid,
)

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

DAS_PATH = "/v3/{project_id}/instances/{instance_id}"

DasInstanceId = Annotated[
    str,
    Path(
        description="Instance id: 32 letters or digits, optionally then in07 (DAS.200114 otherwise).",
        json_schema_extra={"pattern": ids.DAS_INSTANCE_ID_PATTERN},
    ),
]
DbUserId = Annotated[
    str,
    Path(
        description="The registered database user's id, a UUID (DAS.200112 otherwise).",
        json_schema_extra={"pattern": ids.DB_USER_ID_PATTERN},
    ),
]

# The shared layers' errors and DAS's answer to each.
_SAME_MEANING: dict[type[ApiError], type[DasError]] = {
    errors.ParameterError: DasParameterError,
    errors.EmptyRequest: DasParameterError,
    errors.BadInstanceOrNodeId: DasInstanceIdInvalid,
    errors.Forbidden: errors.DasForbidden,
    errors.InstanceNotFound: DasInstanceIdInvalid,
    errors.NodeNotFound: DasParameterError,
    errors.SessionNotFound: DasParameterError,
    errors.NodeUnavailable: errors.DasConnectFailed,
    errors.InternalError: errors.DasInternalError,
    errors.AuditUnavailable: errors.DasAuditUnavailable,
    errors.InventoryUnavailable: errors.DasInventoryUnavailable,
}
# Invalid parameters DAS names by field; any other field is DAS.200100.
_BY_FIELD: dict[str, type[DasError]] = {
    "offset": errors.DasOffsetInvalid,
    "limit": errors.DasLimitInvalid,
    "db_user_id": DasDbUserIdInvalid,
    "datastore_type": errors.DasDatastoreTypeInvalid,
    "database": errors.DasDatabaseInvalid,
    "project_id": DasProjectIdInvalid,
    "instance_id": DasInstanceIdInvalid,
}


def translate(exc: ApiError) -> ApiError:
    """DAS's row for an error of the shared layers (gateway and DAS errors pass unchanged)."""
    if isinstance(exc, DasError) or exc.code.startswith("APIGW."):
        return exc
    das = _SAME_MEANING.get(type(exc), errors.DasInternalError)
    return das(exc.detail)


def invalid(field: str, detail: str) -> DasError:
    return _BY_FIELD.get(field, DasParameterError)(f"{field}: {detail}" if field else detail)


@contextmanager
def das_errors() -> Iterator[None]:
    """Errors raised inside leave as DAS's (also used inside an audited call, so that the audit
    record carries the code the caller was answered with)."""
    try:
        yield
    except ApiError as exc:
        translated = translate(exc)
        if translated is exc:
            raise
        raise translated from exc


class DasRoute(APIRoute):
    """A route of the DAS family: every error it raises is answered from DAS's catalogue."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def das_handler(request: Request) -> Response:
            try:
                with das_errors():
                    return await handler(request)
            except RequestValidationError as exc:
                raise _from_validation(exc) from None
            except (SQLAlchemyError, ConnectionError) as exc:
                log.error("the inventory failed", extra={"path": request.url.path, "cause": repr(exc)[:500]})
                raise errors.DasInventoryUnavailable() from exc
            except ApiError:
                raise
            except Exception as exc:
                log.exception("unhandled error", extra={"path": request.url.path})
                raise errors.DasInternalError() from exc

        return das_handler


def _from_validation(exc: RequestValidationError) -> DasError:
    found = exc.errors()
    if not found:
        return DasParameterError("invalid request")
    first = found[0]
    where = [str(part) for part in first.get("loc", ()) if part not in ("query", "path", "body")]
    return invalid(where[0] if where else "", str(first.get("msg", "invalid value")))


# -- path ids and bodies -----------------------------------------------------------------------
def instance_ref(project_id: str, instance_id: str) -> tuple[str, str]:
    """(project id, instance id), both checked (DAS.200113, DAS.200114)."""
    if not ids.is_project_id(project_id):
        raise DasProjectIdInvalid("project_id must be 1 to 64 letters or digits")
    if not ids.is_das_instance_id(instance_id):
        raise DasInstanceIdInvalid("instance_id must be 32 letters or digits (optionally then in07)")
    return project_id, instance_id


def check_db_user_id(value: str) -> str:
    if not ids.is_db_user_id(value):
        raise DasDbUserIdInvalid("db_user_id must be a UUID")
    return value.lower()


def parse_das_body(model: type[M], body: bytes, content_type: str | None) -> M:
    """A JSON body into its model, strictly; a failure is DAS's code for the field at fault."""
    if not body.strip():
        raise DasParameterError("the request body is empty")
    with das_errors():
        check_content_type(content_type)
    try:
        return model.model_validate_json(body, strict=True)
    except ValidationError as exc:
        raise _BY_FIELD.get(_first_field(exc), DasParameterError)(describe(exc)) from None


def _first_field(exc: ValidationError) -> str:
    problems = exc.errors(include_url=False, include_context=False, include_input=False)
    location = problems[0].get("loc", ()) if problems else ()
    return str(location[0]) if location else ""
