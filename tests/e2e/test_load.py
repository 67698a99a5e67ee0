"""Many connections at once through the gateway: every request is answered, none fails.

A small version of `make bench`'s 500-connection run, sized for CI: it checks behaviour (no
timeout, reset, 502/504 or 500 while many requests are in flight at once), not speed.
"""

import asyncio

import httpx

from tests.e2e.conftest import GATEWAY
from tests.e2e.test_system import new_user

CONNECTIONS = 200
ROUNDS = 5


async def _hammer(url: str, headers: dict[str, str]) -> list[int | str]:
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one_connection() -> list[int | str]:
            outcomes: list[int | str] = []
            for _ in range(ROUNDS):
                try:
                    outcomes.append((await client.get(url, headers=headers)).status_code)
                except httpx.HTTPError as exc:
                    outcomes.append(type(exc).__name__)
            return outcomes

        per_connection = await asyncio.gather(*(one_connection() for _ in range(CONNECTIONS)))
    return [outcome for outcomes in per_connection for outcome in outcomes]


def test_200_connections_at_once_are_all_answered(api: httpx.Client) -> None:
    _, headers = new_user(api)
    task = api.post("/tasks/", json={"title": "read by everyone at once"}, headers=headers)

    outcomes = asyncio.run(_hammer(f"{GATEWAY}/tasks/{task.json()['id']}", headers))

    assert len(outcomes) == CONNECTIONS * ROUNDS
    assert set(outcomes) == {200}
    # The pool is free again at once: a request right after the burst is served.
    assert api.get(f"/tasks/{task.json()['id']}", headers=headers).status_code == 200
