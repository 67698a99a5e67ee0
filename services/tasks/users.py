"""Which users exist, for the assignee check: the tasks service's own directory, then auth.

The directory (`tasks.user`) is kept from auth's user events by `services/tasks/consumer.py`,
so a known user is checked without auth, in the use case's own database thread. A user
registered a moment ago may not be in it yet: the use case then stops (`DirectoryMiss`, its
transaction rolled back), auth's `GET /auth/users/{id}` is asked on the event loop (with the
caller's token; no database thread or connection waits for the answer), and the use case runs
again with the answer, which it stores at a version the user's own events supersede.

Auth's "no such user" is remembered for `unknown_ttl_seconds` (10 s), so a burst of writes
naming the same wrong id asks auth once. That is safe because the directory is always read
first: an id that gets a user meanwhile (auth numbers new users in sequence) is served as
soon as the user's `user.registered` event reaches the directory, and else after at most the
TTL. Only a miss while auth is down or slow (past the HTTP timeout) is a 503.
"""

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from services.tasks.models import user_directory
from shared.core.errors import InvalidFieldError, ServiceUnavailableError
from shared.messaging import directory

T = TypeVar("T")


class Runner(Protocol):
    """How a use case is run in a database thread: `Database.run` (a session) or `.write`."""

    def __call__(self, use_case: Callable[..., T], /, **kwargs: Any) -> Awaitable[T]: ...


class _User(BaseModel):
    id: int
    username: str


class DirectoryMiss(Exception):
    """A use case met a user its directory does not have, and no answer from auth for them."""

    def __init__(self, user_id: int, *, field: str) -> None:
        super().__init__(user_id)
        self.user_id = user_id
        self.field = field


@dataclass(frozen=True)
class KnownUsers:
    """What a use case may rely on: the directory, and what auth answered for this request."""

    answers: Mapping[int, str] = field(default_factory=dict)  # user id -> username

    def ensure_exists(self, session: Session | Connection, user_id: int, *, field: str) -> None:
        """Return if the user exists; on a miss, end the transaction and raise `DirectoryMiss`.

        Call it before the use case reads anything else (nothing is locked yet). An answer
        from auth is stored in the session, to commit with the use case (given an autocommit
        connection, at once: a user auth vouched for may be stored whatever the use case does).
        """
        if directory.is_known(session, user_directory, user_id=user_id):
            return
        username = self.answers.get(user_id)
        if username is None:
            if isinstance(session, Session):  # a connection is in autocommit: no transaction
                session.rollback()  # nothing waits in a transaction while auth is asked
            raise DirectoryMiss(user_id, field=field)
        directory.remember_user(session, user_directory, user_id=user_id, username=username)


class UserDirectory:
    """Runs the use cases that name a user, asking auth on the event loop for one it misses."""

    def __init__(
        self,
        auth_url: str,
        *,
        client: httpx.AsyncClient,
        unknown_ttl_seconds: float = 10.0,
        max_unknown: int = 10_000,
    ) -> None:
        self.auth_url = auth_url.rstrip("/")
        self._client = client
        self._unknown_ttl = unknown_ttl_seconds
        self._max_unknown = max_unknown
        self._unknown: dict[int, float] = {}  # user id -> until when auth's 404 is believed

    async def run(
        self, runner: Runner, use_case: Callable[..., T], /, *, token: str, **kwargs: Any
    ) -> T:
        """`runner(use_case, users=..., **kwargs)` (`Database.run` or `.write`): the use case
        in a database thread; on a directory miss, auth is asked here, on the event loop, and
        the use case runs once more."""
        try:
            return await runner(use_case, users=KnownUsers(), **kwargs)
        except DirectoryMiss as miss:
            user_id, field_name = miss.user_id, miss.field
        username = await self._ask_auth(user_id, field=field_name, token=token)
        return await runner(use_case, users=KnownUsers({user_id: username}), **kwargs)

    async def _ask_auth(self, user_id: int, *, field: str, token: str) -> str:
        """The user's name; 422 naming `field` if auth has no such user; 503 if it cannot say."""
        if self._unknown.get(user_id, 0.0) > time.monotonic():
            raise _no_user(user_id, field=field)
        try:
            response = await self._client.get(
                f"{self.auth_url}/auth/users/{user_id}",
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailableError(
                "The auth service is unavailable and does not know this user yet. Try again."
            ) from exc
        if response.status_code == 404:
            self._remember_unknown(user_id)
            raise _no_user(user_id, field=field)
        try:
            response.raise_for_status()
            return _User.model_validate_json(response.content).username
        except (httpx.HTTPStatusError, ValidationError) as exc:
            raise ServiceUnavailableError(
                f"The auth service answered {response.status_code} when checking the user."
            ) from exc

    def _remember_unknown(self, user_id: int) -> None:
        self._unknown.pop(user_id, None)
        if len(self._unknown) >= self._max_unknown:
            del self._unknown[next(iter(self._unknown))]  # the oldest answer
        self._unknown[user_id] = time.monotonic() + self._unknown_ttl

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()


def _no_user(user_id: int, *, field: str) -> InvalidFieldError:
    return InvalidFieldError(field=field, message=f"No user has the id {user_id}.")
