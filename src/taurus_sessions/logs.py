"""Logging with the request id on every line of that request: JSON lines for log collectors, or
readable text on a terminal (``TAURUS_LOG_FORMAT``: auto picks text when stderr is a terminal).

Nothing here ever formats headers or bodies; callers log ids, codes and durations only.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# uvicorn adds "color_message", the same text with ANSI colour codes, for its own formatter: noise in
# JSON and in a terminal alike.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "color_message",
}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _STANDARD and key != "request_id" and not key.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        entry.update(_extras(record))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """``12:00:01.234 INFO  request GET /path status=200 duration_ms=1.2 [request id]``: for a person."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        extras = _extras(record)
        if record.getMessage() == "request" and {"method", "path"} <= extras.keys():
            text = f"{extras.pop('method')} {extras.pop('path')}"
        else:
            text = record.getMessage()
        details = " ".join(f"{key}={value}" for key, value in extras.items() if value is not None)
        line = f"{when} {record.levelname:<7} {text}" + (f"  {details}" if details else "")
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            line += f"  [{request_id}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure(level: str = "INFO", log_format: str = "auto") -> None:
    # Every request writes an access line: skip what these lines never show (caller frame, thread
    # and process names), as the logging HOWTO's "Optimization" section describes.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    text = log_format == "text" or (log_format == "auto" and sys.stderr.isatty())
    handler.setFormatter(TextFormatter() if text else JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The service writes its own access line (with the request id); uvicorn's would duplicate it.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
