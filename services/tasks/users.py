"""Which users exist, asked of the auth service over HTTP (the tasks service keeps no copy)."""

import httpx

from shared.errors import InvalidFieldError, ServiceUnavailableError


class UserDirectory:
    """Checks user ids against auth's `GET /auth/users/{id}`, with the caller's token."""

    def __init__(self, auth_url: str, *, client: httpx.Client) -> None:
        self.auth_url = auth_url.rstrip("/")
        self._client = client

    def ensure_exists(self, user_id: int, *, field: str, token: str) -> None:
        """422 naming `field` if auth knows no such user; 503 if auth cannot answer."""
        try:
            response = self._client.get(
                f"{self.auth_url}/auth/users/{user_id}",
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailableError(
                "The auth service is unavailable, so the user cannot be checked. Try again."
            ) from exc
        if response.status_code == 404:
            raise InvalidFieldError(field=field, message=f"No user has the id {user_id}.")
        if response.status_code != 200:
            raise ServiceUnavailableError(
                f"The auth service answered {response.status_code} when checking the user."
            )

    def close(self) -> None:
        self._client.close()
