"""auth/passwords: argon2id hashes, their check and their upgrade."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from taurus_sessions.auth.passwords import hash_password, needs_rehash, verify_password


def test_hashes_with_other_parameters_are_upgraded() -> None:
    old = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4).hash("a long enough secret")
    assert verify_password(old, "a long enough secret")  # still accepted
    assert needs_rehash(old)
    assert not needs_rehash(hash_password("a long enough secret"))


def test_password_hash_round_trip() -> None:
    hashed = hash_password("a long enough secret")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "a long enough secret")
    assert not verify_password(hashed, "wrong")
    assert not verify_password(None, "a long enough secret")
    with pytest.raises(ValueError, match="8 characters"):
        hash_password("short")
