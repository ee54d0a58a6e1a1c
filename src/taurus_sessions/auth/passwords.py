"""Password hashing: argon2id (slow on purpose), with a dummy check so unknown users cost the same."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP's argon2id configuration (19 MiB, 2 passes, 1 lane): slow for guessing, yet a login does
# not cost the process 64 MiB, as argon2-cffi's default profile would.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@cache
def _dummy_hash() -> str:
    # Made on first use, not at import: hashing is slow by design and every CLI call imports this.
    return _HASHER.hash("taurus-sessions: no such user")


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    return _HASHER.hash(password)


def needs_rehash(password_hash: str) -> bool:
    """True for hashes made with other parameters (they still verify; upgrade them at login)."""
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return False


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if the password matches; a None hash (unknown user) is checked against a dummy."""
    try:
        return _HASHER.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
