"""``X-Language``: ``en-us`` (default) or ``zh-cn``, case-insensitive; anything else means en-us."""

from __future__ import annotations

import enum


class Language(enum.Enum):
    EN_US = "en-us"
    ZH_CN = "zh-cn"

    @classmethod
    def from_header(cls, value: str | None) -> Language:
        if value and value.strip().lower() == "zh-cn":
            return cls.ZH_CN
        return cls.EN_US
