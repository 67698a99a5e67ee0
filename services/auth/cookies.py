"""The browser's way to hold a refresh token: an HttpOnly cookie, when the client asks for it.

A client sends `X-Token-Delivery: cookie` on login, refresh and logout. Login and refresh then
set the refresh token as a cookie that page scripts never read (`HttpOnly`), that only the
auth routes receive (`Path=<prefix>/auth`), never sent by another site (`SameSite=Strict`) and
only over HTTPS (`Secure`, except plain http to a loopback host, for local runs); the JSON
answer carries the access token alone. Without the header nothing changes: the refresh token
travels in the JSON bodies, as other clients use it.

CSRF: the cookie is read only from a request that carries the header. A page of another site
cannot add a custom header to a cross-site request without a CORS preflight, which the gateway
grants to no origin for this header; SameSite=Strict keeps the cookie off such requests anyway.
"""

from typing import Annotated

from fastapi import Depends, Header, Request, Response

from services.auth.schemas import AccessToken, RefreshRequest, TokenPair
from shared.core.errors import UnauthorizedError

HEADER = "X-Token-Delivery"
COOKIE = "refresh_token"
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


async def wants_cookie(
    delivery: Annotated[
        str | None,
        Header(
            alias=HEADER,
            pattern="^cookie$",
            description="`cookie`: the refresh token travels in an HttpOnly cookie, not in JSON.",
        ),
    ] = None,
) -> bool:
    """Whether the client asked for cookie delivery of the refresh token."""
    return delivery == "cookie"


CookieMode = Annotated[bool, Depends(wants_cookie)]


def _cookie_path(request: Request) -> str:
    return f"{request.scope.get('root_path', '')}/auth"


def _secure(request: Request) -> bool:
    return not (request.url.scheme == "http" and request.url.hostname in LOOPBACK_HOSTS)


def deliver(pair: TokenPair, *, request: Request, response: Response, max_age: int) -> AccessToken:
    """Set the refresh token as the cookie; answer the access token alone."""
    response.set_cookie(
        COOKIE,
        pair.refresh_token,
        max_age=max_age,
        path=_cookie_path(request),
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )
    return AccessToken(access_token=pair.access_token, expires_in=pair.expires_in)


def forget(*, request: Request, response: Response) -> None:
    """Clear the cookie (on logout)."""
    response.delete_cookie(
        COOKIE,
        path=_cookie_path(request),
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )


def presented_token(data: RefreshRequest | None, *, request: Request, cookie_mode: bool) -> str:
    """The refresh token of a refresh or logout: the body's, else (cookie mode) the cookie's."""
    if data is not None:
        return data.refresh_token
    if not cookie_mode:  # no token at all: neither in a body nor asked for from the cookie
        raise UnauthorizedError(
            "No refresh token: send it in the body, or ask for the cookie with"
            " X-Token-Delivery: cookie.",
            code="invalid_refresh_token",
        )
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 256:
        raise UnauthorizedError("No refresh token cookie.", code="invalid_refresh_token")
    return token
