"""language: the X-Language header."""

from __future__ import annotations

from taurus_sessions.language import Language


def test_language_header() -> None:
    assert Language.from_header("ZH-CN") is Language.ZH_CN
    assert Language.from_header(" zh-cn ") is Language.ZH_CN
    assert Language.from_header(None) is Language.EN_US
    assert Language.from_header("fr-fr") is Language.EN_US
