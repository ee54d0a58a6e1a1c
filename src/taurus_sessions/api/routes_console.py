"""Serves the web console at /console from the package's own files (no CDN, no separate server)."""

from __future__ import annotations

from pathlib import Path

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


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC)
