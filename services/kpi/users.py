"""Usernames, asked of the auth service over HTTP (the KPI service keeps no copy of users).

Usernames only label the per-user KPIs, so a KPI never fails for want of one: when auth is
unreachable or answers with an error, the names it could not give are `None` and a warning is
logged.
"""

from collections.abc import Collection

import httpx
import structlog
from pydantic import BaseModel, ValidationError

from shared.pagination import MAX_PAGE_SIZE

logger = structlog.get_logger(__name__)


class _User(BaseModel):
    id: int
    username: str


class _UserPage(BaseModel):
    items: list[_User]


class UserNames:
    """Looks usernames up with auth's `GET /auth/users?id=...`, with the caller's token."""

    def __init__(self, auth_url: str, *, client: httpx.Client) -> None:
        self.auth_url = auth_url.rstrip("/")
        self._client = client

    def lookup(self, user_ids: Collection[int], *, token: str) -> dict[int, str]:
        """The usernames auth gives for `user_ids`; those it cannot give are left out."""
        ids = sorted(set(user_ids))
        names: dict[int, str] = {}
        # Auth takes at most MAX_PAGE_SIZE ids per request, and answers them on one page.
        for start in range(0, len(ids), MAX_PAGE_SIZE):
            batch = ids[start : start + MAX_PAGE_SIZE]
            page = self._fetch(batch, token=token)
            if page is None:
                break
            names.update((user.id, user.username) for user in page.items)
        return names

    def _fetch(self, ids: list[int], *, token: str) -> _UserPage | None:
        params: dict[str, int | list[int]] = {"id": ids, "page_size": MAX_PAGE_SIZE}
        try:
            response = self._client.get(
                f"{self.auth_url}/auth/users",
                params=params,
                headers={"Authorization": f"Bearer {token}"},
            )
            response.raise_for_status()
            return _UserPage.model_validate_json(response.content)
        except (httpx.HTTPError, ValidationError) as exc:
            logger.warning("usernames_unavailable", users=len(ids), error=repr(exc)[:300])
            return None

    def close(self) -> None:
        self._client.close()
