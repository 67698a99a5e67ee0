"""Brute-force protection, token caching and the edge, through the gateway and the services."""

import asyncio
import time
import uuid

import httpx

from tests.e2e.conftest import GATEWAY
from tests.e2e.test_system import client_address, new_user

PASSWORD = "e2e-password"


def _register(api: httpx.Client, name: str, *, address: str) -> httpx.Response:
    body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
    return api.post("/auth/register", json=body, headers={"X-Forwarded-For": address})


def _login(api: httpx.Client, name: str, password: str, *, address: str) -> httpx.Response:
    body = {"username": name, "password": password}
    return api.post("/auth/login", json=body, headers={"X-Forwarded-For": address})


def test_guessing_a_password_is_slowed_down_then_429_from_any_address(api: httpx.Client) -> None:
    name = f"e2e_{uuid.uuid4().hex[:10]}"
    assert _register(api, name, address=client_address()).status_code == 201

    statuses: list[int] = []
    while len(statuses) < 40:  # guess from ever new addresses, waiting as told, until a long wait
        guess = _login(api, name, f"guess{len(statuses)}", address=client_address())
        statuses.append(guess.status_code)
        if guess.status_code == 429 and int(guess.headers["Retry-After"]) >= 4:
            break
        if guess.status_code == 429:
            time.sleep(int(guess.headers["Retry-After"]))
    blocked = _login(api, name, PASSWORD, address=client_address())

    assert statuses[:6] == [401] * 6
    assert set(statuses) == {401, 429}
    assert blocked.status_code == 429  # the right password too, during the wait
    assert blocked.json()["code"] == "too_many_attempts"
    assert len(blocked.headers.get_list("Retry-After")) == 1  # auth's, not the gateway's too
    assert blocked.headers["X-Content-Type-Options"] == "nosniff"


def test_fifty_colleagues_behind_one_address_all_sign_in(api: httpx.Client) -> None:
    names = [f"e2e_{uuid.uuid4().hex[:10]}" for _ in range(50)]
    for name in names:  # registered from home, each
        assert _register(api, name, address=client_address()).status_code == 201
    office = client_address()

    async def sign_in_at_nine() -> list[httpx.Response]:
        headers = {"X-Forwarded-For": office}
        async with httpx.AsyncClient(base_url=GATEWAY, timeout=60, headers=headers) as client:
            return await asyncio.gather(
                *(
                    client.post("/auth/login", json={"username": name, "password": PASSWORD})
                    for name in names
                )
            )

    responses = asyncio.run(sign_in_at_nine())

    assert [response.status_code for response in responses] == [200] * 50
    assert all(response.headers["Cache-Control"] == "no-store" for response in responses)
    assert all(response.headers["Pragma"] == "no-cache" for response in responses)


def test_registrations_from_one_address_are_limited(api: httpx.Client) -> None:
    address = client_address()
    statuses = [
        _register(api, f"e2e_{uuid.uuid4().hex[:10]}", address=address).status_code
        for _ in range(21)
    ]

    assert statuses == [201] * 20 + [429]
    assert (
        _register(api, f"e2e_{uuid.uuid4().hex[:10]}", address=client_address()).status_code == 201
    )


def test_a_browser_app_on_an_allowed_origin_can_call_the_api(api: httpx.Client) -> None:
    _, headers = new_user(api)
    origin = {"Origin": "http://localhost:5173"}

    preflight = api.options(
        "/tasks/",
        headers={
            **origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    created = api.post("/tasks/", json={"title": "from the browser"}, headers={**headers, **origin})
    stranger = api.get("/tasks/", headers={**headers, "Origin": "https://evil.example.com"})

    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert created.status_code == 201
    assert created.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert "Location" in created.headers["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Origin" not in stranger.headers
    assert created.headers["Content-Security-Policy"].startswith("default-src 'none'")
