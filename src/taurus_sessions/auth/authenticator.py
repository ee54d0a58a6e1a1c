"""Who is calling: an IAM token (``X-Auth-Token``) or an AK/SK signature (``Authorization``)."""

from __future__ import annotations

from typing import Protocol

from taurus_sessions.auth.access import AccessControl
from taurus_sessions.auth.caller import AuthRequest, Caller
from taurus_sessions.auth.keyring import TokenKeyring
from taurus_sessions.auth.revocations import TokenRevocations
from taurus_sessions.errors import AuthenticationFailed, TokenExpired


class SignatureVerifier(Protocol):
    async def verify(self, request: AuthRequest) -> Caller: ...


class Authenticator:
    def __init__(
        self,
        keyring: TokenKeyring,
        access: AccessControl,
        revocations: TokenRevocations,
        signatures: SignatureVerifier | None = None,
    ) -> None:
        self._keyring = keyring
        self._access = access
        self._revocations = revocations
        self._signatures = signatures

    async def authenticate(self, request: AuthRequest) -> Caller:
        token = request.header("x-auth-token")
        if token:
            return await self.by_token(token)
        if request.header("authorization") and self._signatures is not None:
            return await self._signatures.verify(request)
        raise AuthenticationFailed(AuthenticationFailed.TOKEN_NOT_FOUND)

    async def by_token(self, token: str) -> Caller:
        """The caller of a request carrying this ``X-Auth-Token`` (what ``authenticate`` does when
        the header is present and not empty)."""
        token = token.strip()
        await self._keyring.refresh_if_stale()
        try:
            claims = self._keyring.provider.validate(token)
        except AuthenticationFailed:
            # Perhaps another replica rotated keys a moment ago: reload once and retry.
            if not await self._keyring.reload_after_failure():
                raise
            claims = self._keyring.provider.validate(token)
        user = await self._access.active_user(claims.user_id)
        if user is None:
            raise AuthenticationFailed(AuthenticationFailed.DECRYPT_FAIL)
        # Signed out, or issued before the user's password changed or the user was disabled.
        invalid_before = user.tokens_valid_after
        if self._revocations.is_revoked(token) or (invalid_before and claims.issued_at < invalid_before):
            raise TokenExpired()
        return Caller(
            user_id=user.id,
            user_name=user.name,
            domain_name=user.domain_name,
            method="token",
            token_project_id=claims.project_id,
        )
