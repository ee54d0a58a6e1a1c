"""What the published OpenAPI document adds to FastAPI's: request bodies as named components (the
service reads bodies itself, after authentication, so FastAPI does not see them), the error table
derived from the catalogue, the id patterns of the path, and the two ways to authenticate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import FastAPI, Path
from pydantic import BaseModel

from taurus_sessions import errors
from taurus_sessions.api.models import ErrorBody
from taurus_sessions.ids import INSTANCE_ID_PATTERN, NODE_ID_PATTERN, PROJECT_ID_PATTERN

REF = "#/components/schemas/{model}"

# Path parameters as the service checks them (in ``ids``, after authentication, so that the
# catalogue's order of errors holds); declared here for the document only.
ProjectId = Annotated[
    str,
    Path(
        description="Project id: 1 to 64 letters or digits.",
        json_schema_extra={"pattern": PROJECT_ID_PATTERN},
    ),
]
InstanceId = Annotated[
    str,
    Path(
        description="Instance id: 32 letters or digits, then in07 (DBS.280404 otherwise).",
        json_schema_extra={"pattern": INSTANCE_ID_PATTERN},
    ),
]
NodeId = Annotated[
    str,
    Path(
        description="Node id: 32 letters or digits, then no07 (DBS.280404 otherwise).",
        json_schema_extra={"pattern": NODE_ID_PATTERN},
    ),
]

_BODIES: dict[str, type[BaseModel]] = {}


def body(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` for a route whose JSON body is ``model`` (registered as a component)."""
    _BODIES[model.__name__] = model
    content = {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}}
    return {"requestBody": {"required": required, "content": content}}


def error_responses(family: str = "DBS") -> dict[int | str, dict[str, Any]]:
    """Per HTTP status, the catalogue codes it may carry (gateway codes apply to every family)."""
    by_status: dict[int, list[str]] = {}
    for row in errors.catalogue():
        if row.code.startswith((family, "APIGW")):
            by_status.setdefault(row.status, []).append(row.code)
    return {
        status: {"model": ErrorBody, "description": ", ".join(codes)}
        for status, codes in sorted(by_status.items())
    }


def _component_schemas(models: dict[str, type[BaseModel]]) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for name, model in models.items():
        schema = model.model_json_schema(ref_template=REF, mode="validation")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
    return schemas


SECURITY_SCHEMES = {
    "IamToken": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"},
    "AkSkSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<...>, Signature=<hex> (with X-Sdk-Date)",
    },
}


def _drop_validation_responses(schema: dict[str, Any]) -> None:
    """FastAPI documents a 422 for every route with parameters; this service answers every
    invalid parameter with the catalogue's 400 (DBS.200001) instead, so the 422s are untrue."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    for name in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)


def install(app: FastAPI) -> None:
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        _drop_validation_responses(schema)
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {}).update(_component_schemas(_BODIES))
        components["securitySchemes"] = SECURITY_SCHEMES
        schema["security"] = [{"IamToken": []}, {"AkSkSignature": []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
