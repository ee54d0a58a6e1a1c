"""auth/tokens: issuing, validating, expiry, key rotation, forged and altered tokens."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from taurus_sessions import errors
from taurus_sessions.auth.tokens import NoTokenKeys, TokenProvider


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_tokens_issue_validate_expire_and_rotate() -> None:
    clock = Clock(1_000_000.0)
    old_key, new_key = Fernet.generate_key(), Fernet.generate_key()
    provider = TokenProvider([old_key], 86400, clock)
    token, claims = provider.issue("u1", "p1", ["password"])
    assert provider.validate(token) == claims
    assert (claims.expires_at - claims.issued_at).total_seconds() == 86400

    provider.replace_keys([new_key, old_key])  # rotation: old tokens stay valid
    assert provider.validate(token).user_id == "u1"
    provider.replace_keys([new_key])  # old key retired: old tokens fail
    with pytest.raises(errors.AuthenticationFailed):
        provider.validate(token)

    fresh, _ = provider.issue("u1", "p1", ["password"])
    clock.now += 86400
    with pytest.raises(errors.TokenExpired):
        provider.validate(fresh)


def test_opened_tokens_are_cached_yet_still_expire_and_follow_key_changes() -> None:
    clock = Clock(2_000_000.0)
    key = Fernet.generate_key()
    provider = TokenProvider([key], 60, clock)
    token, claims = provider.issue("u1", "p1", ["password"])
    assert provider.validate(token) == provider.validate(token) == claims  # the second from the cache
    clock.now += 61
    with pytest.raises(errors.TokenExpired):
        provider.validate(token)  # expiry is checked on every use, cached or not
    clock.now -= 61
    provider.replace_keys([Fernet.generate_key()])  # the key that signed it is gone
    with pytest.raises(errors.AuthenticationFailed):
        provider.validate(token)


@pytest.mark.parametrize("forged", ["", "abc", "gAAAAA" + "x" * 100, "é" * 40, "gAAAAABnotbase64!!"])
def test_forged_tokens_are_refused(forged: str) -> None:
    provider = TokenProvider([Fernet.generate_key()], 3600, Clock(0))
    with pytest.raises(errors.AuthenticationFailed) as caught:
        provider.validate(forged)
    assert caught.value.detail == errors.AuthenticationFailed.DECRYPT_FAIL


def test_altered_token_is_refused() -> None:
    provider = TokenProvider([Fernet.generate_key()], 3600, Clock(5_000_000))
    token, _ = provider.issue("u1", "p1", ["password"])
    for position in (10, len(token) // 2, len(token) - 5):
        flipped = "A" if token[position] != "A" else "B"
        with pytest.raises(errors.AuthenticationFailed):
            provider.validate(token[:position] + flipped + token[position + 1 :])


def test_token_provider_refuses_to_start_without_keys() -> None:
    with pytest.raises(NoTokenKeys):
        TokenProvider([], 3600, Clock(0))
