"""Verifying AK/SK signatures (``SDK-HMAC-SHA256``) as Huawei's API gateway does.

From outside, an unknown AK, a disabled AK and a wrong signature look the same
(``verify aksk signature fail``). Five failed signatures in a row lock the AK for five minutes; the
lock is only announced to a caller whose signature is right (so it reveals nothing to a guesser).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from taurus_sessions.auth import signing
from taurus_sessions.auth.access import AccessControl
from taurus_sessions.auth.caller import AuthRequest, Caller
from taurus_sessions.cache import TtlCache
from taurus_sessions.errors import AuthenticationFailed, SignatureExpired
from taurus_sessions.inventory.access_keys import AccessKeyStore, KeyForCheck

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
        self._last_recorded: dict[str, datetime] = {}

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
        if abs(now - signed_at) > self._skew:
            raise SignatureExpired()
        # The date and the host must be signed (no replay elsewhere or later); every signed header present.
        if not {"host", "x-sdk-date"} <= set(auth.signed_headers):
            raise _fail()
        if any(name not in request.headers for name in auth.signed_headers):
            raise _fail()
        body_sha256 = hashlib.sha256(request.body).hexdigest()
        claimed = request.header(signing.CONTENT_SHA256_HEADER)
        if claimed is not None and claimed.lower() != body_sha256:
            raise _fail()  # includes UNSIGNED-PAYLOAD: every body here is JSON and must be signed

        key = await self._cache.get(auth.access_key, lambda: self._keys.for_check(auth.access_key))
        canonical = signing.canonical_request(
            request.method, request.path, request.query, request.headers, auth.signed_headers, body_sha256
        )
        secret = key.sk.get_secret_value() if key is not None else _DUMMY_SECRET
        expected = signing.signature(secret, signing.string_to_sign(sdk_date, canonical))
        if not hmac.compare_digest(expected, auth.signature) or key is None or not key.enabled:
            if key is not None and key.enabled and not _locked(key, now):
                await self._keys.record_failure(key.ak, now, self._failure_limit, self._lock_for)
                self._cache.invalidate(key.ak)
            log.info("AK/SK signature refused", extra={"access_key": auth.access_key[:64]})
            raise _fail()
        if _locked(key, now):
            raise AuthenticationFailed(AuthenticationFailed.AK_LOCKED)
        user = await self._access.active_user(key.user_id)
        if user is None:
            raise _fail()
        await self._note_success(key, now)
        return Caller(
            user_id=user.id,
            user_name=user.name,
            domain_name=user.domain_name,
            method="aksk",
            # X-Project-Id, when sent, must be the path's project: the same check as a token's scope.
            token_project_id=request.header("x-project-id") or None,
            access_key=key.ak,
        )

    async def _note_success(self, key: KeyForCheck, now: datetime) -> None:
        last = self._last_recorded.get(key.ak)
        if key.failed_attempts == 0 and last is not None and now - last < LAST_USED_EVERY:
            return
        self._last_recorded[key.ak] = now
        await self._keys.record_success(key.ak, now, reset_failures=key.failed_attempts > 0)
        if key.failed_attempts:
            self._cache.invalidate(key.ak)


def _locked(key: KeyForCheck, now: datetime) -> bool:
    return key.locked_until is not None and key.locked_until > now
