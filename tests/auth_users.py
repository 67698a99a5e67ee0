"""The auth service's users API, faked for the services that call it (`httpx.MockTransport`)."""

import re
import threading
from collections.abc import Callable

import anyio.to_thread
import httpx

from shared.web.client import async_service_client

AUTH_URL = "http://auth.test"
_ONE_USER = re.compile(r"/auth/users/(-?\d+)")


class FakeAuthUsers:
    """Auth's `GET /auth/users/{id}` (the tasks service's look-up), knowing users 1 to 999.

    `up = False` refuses every connection; a `failure` is the answer to every request instead;
    `requests` are the requests it received while up; `on_request` is called with each. After
    `hold()` it answers nothing until `release()` (auth being slow), without blocking the
    caller's event loop.
    """

    def __init__(self) -> None:
        self.names = {user_id: f"user{user_id}" for user_id in range(1, 1000)}
        self.up = True
        self.failure: httpx.Response | None = None
        self.requests: list[httpx.Request] = []
        self.on_request: Callable[[httpx.Request], None] | None = None
        self._arrived = threading.Condition()
        self._released = threading.Event()
        self._released.set()

    def hold(self) -> None:
        """Keep every answer back until `release()`."""
        self._released.clear()

    def release(self) -> None:
        """Send the answers held back, and answer at once from now on."""
        self._released.set()

    def wait_for_requests(self, count: int, *, within: float = 30.0) -> bool:
        """Whether `count` requests have arrived (waiting up to `within` seconds for them)."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.requests) >= count, timeout=within)

    def client(self) -> httpx.AsyncClient:
        """A client as tasks makes it (`shared.web.client`), whose every request this fake
        answers."""
        return async_service_client(timeout=3.0, transport=httpx.MockTransport(self.handle))

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            raise httpx.ConnectError("connection refused", request=request)
        with self._arrived:
            self.requests.append(request)
            self._arrived.notify_all()
        if self.on_request is not None:
            self.on_request(request)
        if not self._released.is_set():
            await anyio.to_thread.run_sync(self._released.wait)
        if self.failure is not None:
            return self.failure
        assert request.headers["Authorization"].startswith("Bearer ")
        one_user = _ONE_USER.fullmatch(request.url.path)
        assert one_user is not None, f"auth serves no {request.url.path}"
        return self._get(int(one_user[1]))

    def _get(self, user_id: int) -> httpx.Response:
        if user_id in self.names:
            return httpx.Response(200, json={"id": user_id, "username": self.names[user_id]})
        return httpx.Response(404, json={"code": "not_found", "message": "No user has this id."})
