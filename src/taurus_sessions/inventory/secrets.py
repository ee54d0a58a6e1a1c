"""Secrets at rest: node passwords, SKs and token keys are stored encrypted under the master key.

The master key is a list of Fernet keys (``MultiFernet``): the first encrypts, every one decrypts,
so the operator can rotate by prepending a new key and re-encrypting with ``keys rewrap``.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from taurus_sessions.file_modes import PRIVATE_FILE, make_private_dir
from taurus_sessions.settings import Settings


class MasterKeyMissing(RuntimeError):
    pass


class SecretBox:
    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise MasterKeyMissing("no master key configured")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    def __repr__(self) -> str:
        return "SecretBox(<keys hidden>)"

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, sealed: str) -> SecretStr:
        try:
            return SecretStr(self._fernet.decrypt(sealed.encode()).decode())
        except InvalidToken as exc:
            raise MasterKeyMissing("a stored secret does not open with the configured master key") from exc

    def rewrap(self, sealed: str) -> str:
        return self._fernet.rotate(sealed.encode()).decode()

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        if settings.master_keys is not None:
            return cls(_split(settings.master_keys.get_secret_value()))
        path = settings.resolved_master_key_file
        if not path.exists():
            raise MasterKeyMissing(
                f"no master key: set TAURUS_MASTER_KEYS or run `taurus-sessions init` to create {path}"
            )
        return cls(_split(path.read_text()))


def _split(text: str) -> list[bytes]:
    return [part.strip().encode() for part in text.replace("\n", ",").split(",") if part.strip()]


def create_master_key_file(path: Path) -> bool:
    """Write a new master key file readable by its owner only; False if one exists already."""
    if path.exists():
        return False
    make_private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    with os.fdopen(fd, "w") as handle:
        handle.write(Fernet.generate_key().decode() + "\n")
    return True


def prepend_master_key(path: Path) -> None:
    """Rotation step one: a new key in front; old keys keep decrypting until rewrapped."""
    old = path.read_text().strip()
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "w") as handle:
        handle.write(Fernet.generate_key().decode() + "\n" + old + "\n")
    tmp.replace(path)
