"""A piece of SQL with its bound parameters: fixed text from this package, values never inlined."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Fragment:
    sql: str
    params: tuple[object, ...] = ()

    def __and__(self, other: Fragment) -> Fragment:
        return Fragment(f"({self.sql}) AND ({other.sql})", self.params + other.params)


def placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)
