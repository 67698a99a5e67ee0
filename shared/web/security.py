"""Verify the auth service's access tokens: EdDSA only, key chosen by `kid` from its JWKS.

Every service except auth gets its keys over HTTP (`JWKSKeySource`, cached); auth itself
verifies with the public half of its own key (`StaticKeySource`).
"""

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Annotated, Any, Protocol

import httpx
import jwt
import structlog
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel, Field

from shared.contracts.roles import Role
from shared.core.errors import ForbiddenError, ServiceUnavailableError, UnauthorizedError
from shared.core.settings import ServiceSettings
from shared.web.client import async_service_client

ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "role"]

logger = structlog.get_logger(__name__)


class Principal(BaseModel):
    """Who is calling, as the access token says."""

    id: int
    role: Role
    token: str = Field(default="", repr=False, exclude=True)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


class KeySource(Protocol):
    # Called when the key set changes (e.g. to forget the tokens verified before).
    on_change: list[Callable[[], None]]

    def get_key(self, kid: str) -> jwt.PyJWK | None:
        """The cached key with this `kid`; never waits on I/O."""
        ...

    async def refresh(self, kid: str | None = None) -> None:
        """Fetch the keys now if that is due (a new `kid`, a stale cache); else do nothing."""
        ...

    async def prefetch(self) -> None:
        """Get the first keys before any request needs them (at start-up)."""
        ...

    async def aclose(self) -> None: ...


class StaticKeySource:
    """Keys known in advance (the auth service's own public keys)."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self._keys = {key.key_id: key for key in jwt.PyJWKSet.from_dict(jwks).keys}
        self.on_change: list[Callable[[], None]] = []  # the keys never change

    def get_key(self, kid: str) -> jwt.PyJWK | None:
        return self._keys.get(kid)

    async def refresh(self, kid: str | None = None) -> None:
        """Nothing to fetch."""

    async def prefetch(self) -> None:
        """The keys are there from the start."""

    async def aclose(self) -> None:
        """Nothing to release."""


class JWKSKeySource:
    """Public keys fetched from the auth service's JWKS, cached, and refetched for a new `kid`.

    A fetch is due when the cache is older than `ttl_seconds` (it then runs in the background
    while the cached keys keep serving), or when an unknown `kid` arrives (that request waits
    for it). Fetches run one at a time: concurrent requests wait for the same fetch, so the
    first requests after start all get the key the first fetch brings. A fetch is tried at
    most every `min_refetch_seconds` (failed tries included; 1 s while no key is known yet),
    so neither forged `kid`s nor an auth outage make every request wait on auth. When auth is
    down, cached keys keep working; with none cached, the answer is 503.

    A fetch adds the keys it brings to those seen before instead of replacing them: while auth
    replicas roll out, one answer may come from a pod that does not publish the newest key
    yet, and it must not hide that key. A key no answer has named for `retention_seconds` is
    forgotten, and at most `max_keys` are kept (the ones named last).
    """

    def __init__(
        self,
        url: str,
        *,
        client: httpx.AsyncClient | None = None,
        timeout_seconds: float = 3.0,
        ttl_seconds: float = 300.0,
        min_refetch_seconds: float = 10.0,
        retention_seconds: float = 3600.0,
        max_keys: int = 8,
    ) -> None:
        self.url = url
        self._client = client or async_service_client(timeout=timeout_seconds)
        self._ttl = ttl_seconds
        self._min_refetch = min_refetch_seconds
        self._retention = retention_seconds
        self._max_keys = max_keys
        self._keys: dict[str, jwt.PyJWK] = {}
        self._named_at: dict[str, float] = {}  # when an answer last named each key
        self._fetched_at: float | None = None  # last success
        self._tried_at: float | None = None  # last try, failed or not
        self._fetching: asyncio.Task[None] | None = None
        self.on_change: list[Callable[[], None]] = []

    def get_key(self, kid: str) -> jwt.PyJWK | None:
        if self._is_due(kid) and self._keys.get(kid) is not None:
            self._start_fetch()  # stale: refresh in the background, serve the cached key
        return self._keys.get(kid)

    async def refresh(self, kid: str | None = None) -> None:
        if self._fetching is None and self._is_due(kid):
            self._start_fetch()
        if self._fetching is not None:
            await asyncio.shield(self._fetching)
        if not self._keys:
            raise ServiceUnavailableError(
                "The auth service is unavailable, so the token cannot be checked."
            )

    async def prefetch(self, *, retry_seconds: float = 1.0) -> None:
        """Fetch until the first keys arrive (at start-up, so no request waits for them)."""
        while not self._keys:
            with contextlib.suppress(ServiceUnavailableError):
                await self.refresh()
            if not self._keys:
                await asyncio.sleep(retry_seconds)

    def _is_due(self, kid: str | None) -> bool:
        now = time.monotonic()
        min_refetch = self._min_refetch if self._keys else min(self._min_refetch, 1.0)
        if self._tried_at is not None and now - self._tried_at < min_refetch:
            return False
        stale = self._fetched_at is None or now - self._fetched_at >= self._ttl
        return stale or (kid is not None and kid not in self._keys)

    def _start_fetch(self) -> None:
        if self._fetching is None:
            self._tried_at = time.monotonic()
            self._fetching = asyncio.get_running_loop().create_task(self._fetch())

    async def _fetch(self) -> None:
        try:
            response = await self._client.get(self.url)
            response.raise_for_status()
            keys = jwt.PyJWKSet.from_dict(response.json()).keys
        except (httpx.HTTPError, ValueError, jwt.PyJWKSetError) as exc:
            logger.warning("jwks_fetch_failed", url=self.url, error=str(exc))
            return
        finally:
            self._fetching = None
        before = set(self._keys)
        self._merge({key.key_id: key for key in keys if key.key_id})
        self._fetched_at = self._tried_at
        if set(self._keys) != before:
            for callback in self.on_change:
                callback()

    def _merge(self, fetched: dict[str, jwt.PyJWK]) -> None:
        """Add the fetched keys to those seen; forget the long unnamed and the surplus."""
        now = time.monotonic()
        self._keys.update(fetched)  # a kid is the key's thumbprint: same kid, same key
        self._named_at.update(dict.fromkeys(fetched, now))
        kept = sorted(
            (kid for kid, named_at in self._named_at.items() if now - named_at <= self._retention),
            key=self._named_at.__getitem__,
            reverse=True,
        )[: self._max_keys]
        self._keys = {kid: self._keys[kid] for kid in kept}
        self._named_at = {kid: self._named_at[kid] for kid in kept}

    async def aclose(self) -> None:
        """Release the HTTP client."""
        await self._client.aclose()


class TokenVerifier:
    """Check an access token's signature, algorithm, `exp`, `iss` and `aud`.

    `exp`, `iat` and `nbf` are checked with `leeway_seconds` of tolerance for clock skew.
    A token that passed is remembered (up to `cache_size` tokens) with its `exp`: the same
    token again costs a dictionary look-up and a clock read instead of a signature check.
    A change of the key set forgets them all.
    """

    def __init__(
        self,
        *,
        keys: KeySource,
        issuer: str,
        audience: str,
        leeway_seconds: float = 0,
        cache_size: int = 10_000,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway_seconds
        self._verified: dict[str, tuple[Principal, float]] = {}
        self._cache_size = cache_size
        keys.on_change.append(self._verified.clear)

    async def aclose(self) -> None:
        """Release the key source (its HTTP client)."""
        await self.keys.aclose()

    async def authenticate(self, token: str) -> Principal:
        """As `verify`, fetching auth's keys first when the token names a `kid` not yet known."""
        remembered = self._remembered(token)
        if remembered is not None:
            return remembered
        kid = _kid(token)
        if self.keys.get_key(kid) is None:
            await self.keys.refresh(kid)
        return self.verify(token)

    def verify(self, token: str) -> Principal:
        """The caller the token names, from the cached keys; `UnauthorizedError` if not good."""
        remembered = self._remembered(token)
        if remembered is not None:
            return remembered
        key = self.keys.get_key(_kid(token))
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
                leeway=self.leeway,
                options={"require": REQUIRED_CLAIMS},
            )
            principal = Principal(id=int(claims["sub"]), role=Role(claims["role"]), token=token)
        except jwt.ExpiredSignatureError as exc:
            raise UnauthorizedError("The access token has expired.", code="token_expired") from exc
        except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
            raise UnauthorizedError("The access token is not valid.", code="invalid_token") from exc
        self._remember(token, principal, float(claims["exp"]) + self.leeway)
        return principal

    def _remembered(self, token: str) -> Principal | None:
        entry = self._verified.get(token)
        if entry is None:
            return None
        principal, expires_at = entry
        if time.time() >= expires_at:
            del self._verified[token]
            raise UnauthorizedError("The access token has expired.", code="token_expired")
        return principal

    def _remember(self, token: str, principal: Principal, expires_at: float) -> None:
        if len(self._verified) >= self._cache_size:
            self._verified.clear()  # bounded memory; the next requests verify again
        self._verified[token] = (principal, expires_at)


def _kid(token: str) -> str:
    """The `kid` of a token signed as auth signs; `UnauthorizedError` for anything else."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:  # malformed, or a header PyJWT refuses (`crit`)
        raise UnauthorizedError("The access token is malformed.", code="invalid_token") from exc
    kid = header.get("kid")
    if header.get("alg") != ALGORITHM or not isinstance(kid, str):
        raise UnauthorizedError("The access token is not signed as expected.", code="invalid_token")
    return kid


# The OAuth2 password flow, so the interactive docs' Authorize button works.
_bearer = OAuth2PasswordBearer(tokenUrl="/auth/login", auto_error=False)


async def get_current_user(
    request: Request, token: Annotated[str | None, Depends(_bearer)]
) -> Principal:
    """The signed-in caller; 401 without a valid bearer token. Runs on the event loop."""
    if not token:
        raise UnauthorizedError("Sign in and send the access token as a Bearer token.")
    verifier: TokenVerifier = request.app.state.token_verifier
    return await verifier.authenticate(token)


CurrentUser = Annotated[Principal, Depends(get_current_user)]


async def require_admin(user: CurrentUser) -> Principal:
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
        leeway_seconds=settings.jwt_leeway_seconds,
    )
