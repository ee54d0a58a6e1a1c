"""JSON responses as Huawei sends them: ``application/json;charset=UTF-8``, encoded by orjson."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from taurus_sessions.errors import ApiError, IamError
from taurus_sessions.language import Language

JSON_MEDIA_TYPE = "application/json;charset=UTF-8"


class JsonResponse(Response):
    media_type = JSON_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def api_error_response(exc: ApiError, language: Language) -> JsonResponse:
    return JsonResponse({"error_code": exc.code, "error_msg": exc.message(language)}, status_code=exc.status)


def iam_error_response(exc: IamError) -> JsonResponse:
    body = {"error": {"code": exc.status, "message": exc.message, "title": exc.title}}
    return JsonResponse(body, status_code=exc.status)
