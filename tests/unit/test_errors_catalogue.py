"""errors: every row of the catalogue, and the texts the cloud API's contract fixes."""

from __future__ import annotations

from taurus_sessions import errors
from taurus_sessions.language import Language


def test_every_catalogue_row_has_both_languages_and_a_code() -> None:
    codes = set()
    for cls in errors.catalogue():
        exc = cls()
        assert exc.message(Language.EN_US) and exc.message(Language.ZH_CN)
        assert 400 <= exc.status <= 599
        codes.add(cls.code)
    assert len(codes) == len(errors.catalogue())


def test_catalogue_texts_match_the_contract() -> None:
    assert errors.ParameterError().message(Language.ZH_CN) == "参数错误。"
    assert errors.EmptyRequest().message(Language.EN_US) == "The request is null. Enter a request parameter."
    assert errors.InstanceNotFound().message(Language.ZH_CN) == "实例不存在或已被删除。"
    assert errors.ParameterError("limit").message(Language.EN_US) == "Parameter error.: limit"
    auth = errors.AuthenticationFailed(errors.AuthenticationFailed.TOKEN_NOT_FOUND)
    assert auth.message(Language.ZH_CN) == "Incorrect IAM authentication information: x-auth-token not found"
