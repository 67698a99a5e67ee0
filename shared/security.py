"""Verify the auth service's access tokens: EdDSA only, key chosen by `kid` from its JWKS.

Every service except auth gets its keys over HTTP (`JWKSKeySource`, cached); auth itself
verifies with the public half of its own key (`StaticKeySource`).
"""

import threading
import time
from enum import StrEnum
from typing import Annotated, Any, Protocol

import httpx
import jwt
import structlog
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel, Field

from shared.errors import ForbiddenError, ServiceUnavailableError, UnauthorizedError
from shared.settings import ServiceSettings

ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "role"]

logger = structlog.get_logger(__name__)


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"


class Principal(BaseModel):
    """Who is calling, as the access token says."""

    id: int
    role: Role
    token: str = Field(default="", repr=False, exclude=True)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


class KeySource(Protocol):
    def get_key(self, kid: str) -> jwt.PyJWK | None: ...

    def close(self) -> None: ...


class StaticKeySource:
    """Keys known in advance (the auth service's own public keys)."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self._keys = {key.key_id: key for key in jwt.PyJWKSet.from_dict(jwks).keys}

    def get_key(self, kid: str) -> jwt.PyJWK | None:
        return self._keys.get(kid)

    def close(self) -> None:
        """Nothing to release."""


class JWKSKeySource:
    """Public keys fetched from the auth service's JWKS, cached, and refetched for a new `kid`.

    A fetch is tried when the cache is older than `ttl_seconds`, or when an unknown `kid`
    arrives; never more often than every `min_refetch_seconds`, failed tries included, so
    neither forged `kid`s nor an auth outage make every request wait on auth. One thread
    fetches at a time; the others meanwhile use the keys they have. When auth is down, cached
    keys keep working; with none cached, the answer is 503.
    """

    def __init__(
        self,
        url: str,
        *,
        client: httpx.Client | None = None,
        timeout_seconds: float = 3.0,
        ttl_seconds: float = 300.0,
        min_refetch_seconds: float = 10.0,
    ) -> None:
        self.url = url
        self._client = client or httpx.Client(timeout=timeout_seconds)
        self._ttl = ttl_seconds
        self._min_refetch = min_refetch_seconds
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None  # last success
        self._tried_at: float | None = None  # last try, failed or not
        self._fetching = threading.Lock()

    def get_key(self, kid: str) -> jwt.PyJWK | None:
        if self._should_fetch(kid) and self._fetching.acquire(blocking=not self._keys):
            try:
                if self._should_fetch(kid):
                    self._fetch()
            finally:
                self._fetching.release()
        if not self._keys:
            raise ServiceUnavailableError(
                "The auth service is unavailable, so the token cannot be checked."
            )
        return self._keys.get(kid)

    def _should_fetch(self, kid: str) -> bool:
        now = time.monotonic()
        if self._tried_at is not None and now - self._tried_at < self._min_refetch:
            return False
        stale = self._fetched_at is None or now - self._fetched_at >= self._ttl
        return stale or kid not in self._keys

    def _fetch(self) -> None:
        self._tried_at = time.monotonic()
        try:
            response = self._client.get(self.url)
            response.raise_for_status()
            keys = jwt.PyJWKSet.from_dict(response.json()).keys
        except (httpx.HTTPError, ValueError, jwt.PyJWKSetError) as exc:
            logger.warning("jwks_fetch_failed", url=self.url, error=str(exc))
            return
        self._keys = {key.key_id: key for key in keys if key.key_id}
        self._fetched_at = self._tried_at

    def close(self) -> None:
        self._client.close()


class TokenVerifier:
    """Check an access token's signature, algorithm, `exp`, `iss` and `aud`."""

    def __init__(self, *, keys: KeySource, issuer: str, audience: str) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience

    def close(self) -> None:
        """Release the key source (its HTTP client)."""
        self.keys.close()

    def verify(self, token: str) -> Principal:
        """The caller the token names; `UnauthorizedError` if the token is not good."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:  # malformed, or a header PyJWT refuses (`crit`)
            raise UnauthorizedError("The access token is malformed.", code="invalid_token") from exc
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str):
            raise UnauthorizedError(
                "The access token is not signed as expected.", code="invalid_token"
            )
        key = self.keys.get_key(kid)
        if key is None:
            raise UnauthorizedError(
                "The access token's signing key is unknown.", code="invalid_token"
            )
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": REQUIRED_CLAIMS},
            )
            return Principal(id=int(claims["sub"]), role=Role(claims["role"]), token=token)
        except jwt.ExpiredSignatureError as exc:
            raise UnauthorizedError("The access token has expired.", code="token_expired") from exc
        except (jwt.InvalidTokenError, ValueError) as exc:
            raise UnauthorizedError("The access token is not valid.", code="invalid_token") from exc


# The OAuth2 password flow, so the interactive docs' Authorize button works.
_bearer = OAuth2PasswordBearer(tokenUrl="/auth/login", auto_error=False)


def get_current_user(request: Request, token: Annotated[str | None, Depends(_bearer)]) -> Principal:
    """The signed-in caller; 401 without a valid bearer token."""
    if not token:
        raise UnauthorizedError("Sign in and send the access token as a Bearer token.")
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier.verify(token)


CurrentUser = Annotated[Principal, Depends(get_current_user)]


def require_admin(user: CurrentUser) -> Principal:
    """The caller, if an admin; 403 otherwise."""
    if not user.is_admin:
        raise ForbiddenError("Only an admin may do this.")
    return user


AdminUser = Annotated[Principal, Depends(require_admin)]


def jwks_verifier(settings: ServiceSettings) -> TokenVerifier:
    """The verifier of a service other than auth: keys from auth's JWKS over HTTP."""
    return TokenVerifier(
        keys=JWKSKeySource(settings.auth_jwks_url, timeout_seconds=settings.http_timeout_seconds),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
