"""Thin HTTP endpoints of the auth service: parse, call one service function, answer."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from services.auth import cookies, service
from services.auth.cookies import CookieMode
from services.auth.deps import ClientAddress, CredentialsDep, LoginDep
from services.auth.schemas import (
    AccessToken,
    LoginRequest,
    RefreshRequest,
    TokenPair,
    UserCreate,
    UserRead,
    UserSummary,
)
from shared.core.db import DatabaseDep
from shared.web.ids import Id, PathId
from shared.web.openapi import problem_responses
from shared.web.pagination import Page, PageDep
from shared.web.security import CurrentUser

router = APIRouter(prefix="/auth", tags=["auth"])

# A response that carries a token is never stored by a cache (RFC 6749, section 5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

_login_form_schema = {
    "type": "object",
    "required": ["username", "password"],
    "properties": {
        "grant_type": {"type": "string", "enum": ["password"]},
        "username": {"type": "string"},
        "password": {"type": "string", "format": "password"},
    },
}


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    responses=problem_responses(
        409,
        429,
        503,
        descriptions={
            409: "Username or email taken",
            429: "Too many registrations from this address (auth), or the gateway's flood"
            " guard: wait `Retry-After` seconds",
        },
    ),
)
async def register(
    data: UserCreate, database: DatabaseDep, credentials: CredentialsDep, address: ClientAddress
) -> UserRead:
    """Create an account with the `user` role."""
    await database.run(service.count_registration, address=address, throttle=credentials.throttle)
    password_hash = await credentials.passwords.hash_async(data.password)
    user = await database.run(service.register, data=data, password_hash=password_hash)
    return UserRead.model_validate(user)


@router.post(
    "/login",
    response_model=TokenPair | AccessToken,
    responses=problem_responses(
        401,
        429,
        503,
        descriptions={
            401: "Wrong username or password (`invalid_credentials`)",
            429: "Too many failures (auth), or the gateway's flood guard: wait `Retry-After`",
        },
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": LoginRequest.model_json_schema()},
                "application/x-www-form-urlencoded": {"schema": _login_form_schema},
            },
        }
    },
)
async def login(
    credentials_in: LoginDep,
    database: DatabaseDep,
    credentials: CredentialsDep,
    address: ClientAddress,
    request: Request,
    response: Response,
    cookie_mode: CookieMode,
) -> TokenPair | AccessToken:
    """Exchange a username and password (JSON or OAuth2 form) for tokens. With
    `X-Token-Delivery: cookie` the refresh token is set as an HttpOnly cookie instead."""
    response.headers.update(NO_STORE)
    pair = await service.login(
        database,
        username=credentials_in.username,
        password=credentials_in.password,
        address=address,
        credentials=credentials,
    )
    return _answer(pair, request=request, response=response, cookie_mode=cookie_mode)


def _answer(
    pair: TokenPair, *, request: Request, response: Response, cookie_mode: bool
) -> TokenPair | AccessToken:
    if not cookie_mode:
        return pair
    max_age = int(request.app.state.credentials.refresh_ttl.total_seconds())
    return cookies.deliver(pair, request=request, response=response, max_age=max_age)


@router.post(
    "/refresh",
    response_model=TokenPair | AccessToken,
    responses=problem_responses(401, 503, descriptions={401: "The refresh token is not valid"}),
)
async def refresh(
    database: DatabaseDep,
    credentials: CredentialsDep,
    request: Request,
    response: Response,
    cookie_mode: CookieMode,
    data: RefreshRequest | None = None,
) -> TokenPair | AccessToken:
    """Trade a refresh token for a new pair; the old refresh token stops working. With
    `X-Token-Delivery: cookie` and no body, the token comes from (and goes to) the cookie."""
    response.headers.update(NO_STORE)
    token = cookies.presented_token(data, request=request, cookie_mode=cookie_mode)
    pair = await database.run(service.refresh, refresh_token=token, credentials=credentials)
    return _answer(pair, request=request, response=response, cookie_mode=cookie_mode)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 503, descriptions={401: "No refresh token was sent"}),
)
async def logout(
    database: DatabaseDep,
    request: Request,
    cookie_mode: CookieMode,
    data: RefreshRequest | None = None,
) -> Response:
    """Revoke the refresh token (and the sign-in session it belongs to). With
    `X-Token-Delivery: cookie` and no body: the cookie's, and the cookie is cleared."""
    if data is None and cookie_mode and cookies.COOKIE not in request.cookies:
        token = None  # nothing to revoke; the cookie is cleared all the same
    else:
        token = cookies.presented_token(data, request=request, cookie_mode=cookie_mode)
    if token is not None:
        await database.run(service.logout, refresh_token=token)
    answer = Response(status_code=status.HTTP_204_NO_CONTENT)
    if cookie_mode:
        cookies.forget(request=request, response=answer)
    return answer


@router.get(
    "/me",
    response_model=UserRead,
    responses=problem_responses(404, descriptions={404: "The token's user no longer exists"}),
)
async def me(user: CurrentUser, database: DatabaseDep) -> UserRead:
    """The signed-in user."""
    return UserRead.model_validate(await database.read(service.get_user, user_id=user.id))


@router.get("/users", response_model=Page[UserSummary])
async def list_users(
    _: CurrentUser,
    database: DatabaseDep,
    page: PageDep,
    ids: Annotated[
        list[Id] | None, Query(alias="id", max_length=200, description="Only these user ids.")
    ] = None,
) -> Page[UserSummary]:
    """Users (id and username), e.g. for an assignee picker."""
    return await database.read(service.list_users, ids=ids, params=page)


@router.get(
    "/users/{user_id}",
    response_model=UserSummary,
    responses=problem_responses(404, descriptions={404: "No such user"}),
)
async def get_user(user_id: PathId, _: CurrentUser, database: DatabaseDep) -> UserSummary:
    """One user (id and username)."""
    return UserSummary.model_validate(await database.read(service.get_user, user_id=user_id))


@router.get("/.well-known/jwks.json")
async def jwks(request: Request, response: Response) -> dict[str, Any]:
    """The public keys that verify access tokens: the current one, then the previous one."""
    response.headers["Cache-Control"] = "public, max-age=300"
    result: dict[str, Any] = request.app.state.keys.jwks()
    return result
