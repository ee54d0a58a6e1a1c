"""Verifying AK/SK signatures (``SDK-HMAC-SHA256``) as Huawei's API gateway does.

From outside, an unknown AK, a disabled AK and a wrong signature look the same
(``verify aksk signature fail``). Five failed signatures in a row from one source address lock the
AK for that address for five minutes (counted per address, so a stranger who knows an AK cannot
lock its owner out); the lock is only announced to a caller whose signature is right (so it
reveals nothing to a guesser). The signature covers the path exactly as it was sent: it is decoded
once, as the SDKs' signer decodes it, never twice.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from taurus_sessions.auth import signing
from taurus_sessions.auth.access import AccessControl
from taurus_sessions.auth.caller import AuthRequest, Caller
from taurus_sessions.cache import TtlCache
from taurus_sessions.errors import AuthenticationFailed, SignatureExpired
from taurus_sessions.inventory.access_keys import AccessKeyStore, KeyForCheck, LockState

log = logging.getLogger(__name__)

LAST_USED_EVERY = timedelta(seconds=60)  # last-use time is written at most this often per key
# Signs for unknown keys so that they cost the same HMAC as known ones; it opens nothing.
_DUMMY_SECRET = "taurus-sessions: no such key"  # noqa: S105


def _fail() -> AuthenticationFailed:
    return AuthenticationFailed(AuthenticationFailed.SIGNATURE_FAIL)


class AkSkVerifier:
    def __init__(
        self,
        keys: AccessKeyStore,
        access: AccessControl,
        *,
        clock_skew: timedelta,
        failure_limit: int,
        lock_for: timedelta,
        cache_seconds: float,
        clock: Callable[[], float],
        monotonic: Callable[[], float],
    ) -> None:
        self._keys = keys
        self._access = access
        self._skew = clock_skew
        self._failure_limit = failure_limit
        self._lock_for = lock_for
        self._clock = clock
        self._cache: TtlCache[str, KeyForCheck | None] = TtlCache(cache_seconds, monotonic)
        self._locks: TtlCache[tuple[str, str], LockState] = TtlCache(cache_seconds, monotonic)
        self._last_recorded: dict[str, datetime] = {}

    @property
    def caches(self) -> list[TtlCache[Any, Any]]:
        return [self._cache, self._locks]

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def verify(self, request: AuthRequest) -> Caller:
        auth = signing.parse_authorization(request.header("authorization") or "")
        if auth is None:
            raise _fail()
        sdk_date = request.header(signing.DATE_HEADER) or ""
        try:
            signed_at = datetime.strptime(sdk_date, signing.DATE_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            raise _fail() from None
        now = self._now()
        source = (request.source_ip or "-")[:64]
        if abs(now - signed_at) > self._skew:
            raise SignatureExpired()
        # The date and the host must be signed (no replay elsewhere or later); every signed header present.
        if not {"host", "x-sdk-date"} <= set(auth.signed_headers):
            raise _fail()
        if any(name not in request.headers for name in auth.signed_headers):
            raise _fail()
        # A header sent twice has two values; which one was signed is ambiguous, so neither is taken.
        if request.repeated_headers & set(auth.signed_headers):
            raise _fail()
        body_sha256 = hashlib.sha256(request.body).hexdigest()
        claimed = request.header(signing.CONTENT_SHA256_HEADER)
        if claimed is not None and claimed.lower() != body_sha256:
            raise _fail()  # includes UNSIGNED-PAYLOAD: every body here is JSON and must be signed

        key = await self._cache.get(
            auth.access_key, lambda: self._keys.for_check(auth.access_key), "access_key"
        )
        canonical = signing.canonical_request(
            request.method,
            request.raw_path or request.path,
            request.query,
            request.headers,
            auth.signed_headers,
            body_sha256,
        )
        secret = key.sk.get_secret_value() if key is not None else _DUMMY_SECRET
        expected = signing.signature(secret, signing.string_to_sign(sdk_date, canonical))
        if not hmac.compare_digest(expected, auth.signature) or key is None or not key.enabled:
            if key is not None and key.enabled:
                await self._failed(key.ak, source, now)
            log.info("AK/SK signature refused", extra={"access_key": auth.access_key[:64]})
            raise _fail()
        lock = await self._lock_state(key.ak, source)
        if _locked(lock, now):
            raise AuthenticationFailed(AuthenticationFailed.AK_LOCKED)
        user = await self._access.active_user(key.user_id)
        if user is None:
            raise _fail()
        await self._note_success(key.ak, source, lock, now)
        return Caller(
            user_id=user.id,
            user_name=user.name,
            domain_name=user.domain_name,
            method="aksk",
            # X-Project-Id, when sent, must be the path's project: the same check as a token's scope.
            token_project_id=request.header("x-project-id") or None,
            access_key=key.ak,
        )

    async def _lock_state(self, ak: str, source: str) -> LockState:
        return await self._locks.get(
            (ak, source), lambda: self._keys.lock_state(ak, source), "access_key_lock"
        )

    async def _failed(self, ak: str, source: str, now: datetime) -> None:
        if _locked(await self._lock_state(ak, source), now):
            return  # already locked: the lock runs its course, further failures do not extend it
        await self._keys.record_failure(ak, source, now, self._failure_limit, self._lock_for)
        self._locks.invalidate((ak, source))

    async def _note_success(self, ak: str, source: str, lock: LockState, now: datetime) -> None:
        last = self._last_recorded.get(ak)
        if lock.failed_attempts == 0 and last is not None and now - last < LAST_USED_EVERY:
            return
        self._last_recorded[ak] = now
        await self._keys.record_success(ak, source, now, reset_failures=lock.failed_attempts > 0)
        if lock.failed_attempts:
            self._locks.invalidate((ak, source))


def _locked(lock: LockState, now: datetime) -> bool:
    return lock.locked_until is not None and lock.locked_until > now
