"""Serves the web console at /console from the package's own files (no CDN, no separate server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent.parent / "console" / "static"

router = APIRouter(include_in_schema=False)


@router.get("/console")
async def console_root() -> Response:
    return RedirectResponse("/console/", status_code=307)


@router.get("/console/")
async def console_index() -> Response:
    # no-store: a new release of the console must not run against an old cached page
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


class _RevalidatedFiles(StaticFiles):
    """Modules are revalidated on every load (ETag, so usually a 304): after an upgrade a browser
    never runs a new page with an old module."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


def static_files() -> StaticFiles:
    return _RevalidatedFiles(directory=STATIC)
