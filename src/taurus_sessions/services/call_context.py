"""Facts about one call that every layer below the API may need, free of HTTP types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class CallContext:
    request_id: str
    source_ip: str | None
    started_at: datetime
    started_monotonic: float
