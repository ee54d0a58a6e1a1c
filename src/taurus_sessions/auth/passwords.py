"""Password hashing: argon2id (slow on purpose), with a dummy check so unknown users cost the same."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()


@cache
def _dummy_hash() -> str:
    # Made on first use, not at import: hashing is slow by design and every CLI call imports this.
    return _HASHER.hash("taurus-sessions: no such user")


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if the password matches; a None hash (unknown user) is checked against a dummy."""
    try:
        return _HASHER.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
