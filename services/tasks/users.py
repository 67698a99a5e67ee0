"""Which users exist, for the assignee check: the tasks service's own directory, then auth.

The directory (`tasks.user`) is kept from auth's user events by `services/tasks/consumer.py`,
so a known user is checked without auth. A user registered a moment ago may not be in it yet:
on a miss, auth's `GET /auth/users/{id}` is asked once (with the caller's token) and its answer
stored, at a version the user's own events supersede. Only a miss while auth is down is a 503.
"""

import httpx
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from services.tasks.models import user_directory
from shared.core.errors import InvalidFieldError, ServiceUnavailableError
from shared.messaging import directory


class _User(BaseModel):
    id: int
    username: str


class UserDirectory:
    """The users tasks knows, and auth's API for the ones it does not know yet."""

    def __init__(self, auth_url: str, *, client: httpx.Client) -> None:
        self.auth_url = auth_url.rstrip("/")
        self._client = client

    def ensure_exists(self, session: Session, user_id: int, *, field: str, token: str) -> None:
        """422 naming `field` if there is no such user; 503 if only auth could say, and cannot.

        Call it before the use case reads anything else: on a miss it ends the session's
        transaction, so no connection waits in a transaction for auth's answer. The answer is
        stored in the session, to commit with the use case.
        """
        if directory.is_known(session, user_directory, user_id=user_id):
            return
        session.rollback()  # a read: end it before waiting on auth
        user = self._ask_auth(user_id, field=field, token=token)
        directory.remember_user(session, user_directory, user_id=user.id, username=user.username)

    def _ask_auth(self, user_id: int, *, field: str, token: str) -> _User:
        try:
            response = self._client.get(
                f"{self.auth_url}/auth/users/{user_id}",
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailableError(
                "The auth service is unavailable and does not know this user yet. Try again."
            ) from exc
        if response.status_code == 404:
            raise InvalidFieldError(field=field, message=f"No user has the id {user_id}.")
        try:
            response.raise_for_status()
            return _User.model_validate_json(response.content)
        except (httpx.HTTPStatusError, ValidationError) as exc:
            raise ServiceUnavailableError(
                f"The auth service answered {response.status_code} when checking the user."
            ) from exc

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()
