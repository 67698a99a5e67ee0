"""Brute-force protection: failed logins per account and per address, registrations per address."""

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from conftest import on_test_session
from services.auth.config import AuthSettings
from services.auth.main import create_app
from services.auth.models import LoginAttempt
from services.auth.tests.factories import DEFAULT_PASSWORD, create_user

OFFICE = ("203.0.113.7", 40000)
ROOT = Path(__file__).parents[3]


@pytest.fixture
def office(app: FastAPI) -> Iterator[TestClient]:
    """A client whose requests all come from one address, as from an office behind NAT."""
    with TestClient(app, client=OFFICE) as client:
        yield client


def _login(client: TestClient, username: str, password: str = DEFAULT_PASSWORD) -> Any:
    return client.post("/auth/login", json={"username": username, "password": password})


def _age(session: Session, *, key: str, seconds: float, column: str = "last_at") -> None:
    """Move a count's times into the past, as if `seconds` had gone by."""
    moved = getattr(LoginAttempt, column) - timedelta(seconds=seconds)
    session.execute(update(LoginAttempt).where(LoginAttempt.key == key).values({column: moved}))


def _just_now(session: Session, *, key: str) -> None:
    """As if the latest failure had happened this instant (however slow the test machine)."""
    now = datetime.now(UTC)
    session.execute(update(LoginAttempt).where(LoginAttempt.key == key).values(last_at=now))


def test_an_account_is_slowed_down_then_answered_429(client: TestClient, session: Session) -> None:
    create_user(session, username="victim")

    free = [_login(client, "victim", "guess").status_code for _ in range(6)]
    _just_now(session, key="victim")
    blocked = _login(client, "victim")  # even the right password, during the wait

    assert free == [401] * 6
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "too_many_attempts"
    assert blocked.headers["Retry-After"] == "1"

    _age(session, key="victim", seconds=2)  # the wait is over: one more guess, a longer wait
    assert _login(client, "victim", "guess").status_code == 401
    _just_now(session, key="victim")
    assert _login(client, "Victim").headers["Retry-After"] == "2"


def test_a_success_resets_the_accounts_count(client: TestClient, session: Session) -> None:
    create_user(session, username="typo")
    for _ in range(4):
        _login(client, "typo", "tpyo")

    assert _login(client, "typo").status_code == 200
    assert [_login(client, "typo", "tpyo").status_code for _ in range(6)] == [401] * 6
    _just_now(session, key="typo")
    assert _login(client, "typo").status_code == 429


def test_unknown_accounts_are_counted_alike(client: TestClient, session: Session) -> None:
    statuses = [_login(client, "nobody-here", "guess").status_code for _ in range(6)]
    _just_now(session, key="nobody-here")
    statuses.append(_login(client, "nobody-here", "guess").status_code)

    assert statuses == [401] * 6 + [429]  # no way to tell a real account from a missing one


def test_guessing_from_one_address_blocks_that_address_only(
    office: TestClient, client: TestClient, session: Session
) -> None:
    create_user(session, username="elsewhere")
    for number in range(21):  # one guess each at many accounts: each account stays free
        assert _login(office, f"sprayed{number}", "guess").status_code == 401
    _just_now(session, key=OFFICE[0])

    from_office = _login(office, "elsewhere")
    from_home = _login(client, "elsewhere")

    assert from_office.status_code == 429
    assert int(from_office.headers["Retry-After"]) >= 1
    assert from_home.status_code == 200


def test_fifty_colleagues_behind_one_address_all_sign_in(
    office: TestClient, session: Session
) -> None:
    names = [f"colleague{n}" for n in range(50)]
    for name in names:
        create_user(session, username=name)
    for name in names[:5]:  # a few mistype first
        assert _login(office, name, "mistyped").status_code == 401

    statuses = [_login(office, name).status_code for name in names]

    assert statuses == [200] * 50


def test_a_count_is_forgotten_when_its_window_is_over(client: TestClient, session: Session) -> None:
    create_user(session, username="patient")
    for _ in range(6):
        _login(client, "patient", "guess")
    _just_now(session, key="patient")
    assert _login(client, "patient").status_code == 429

    _age(session, key="patient", seconds=3601, column="window_started_at")

    assert _login(client, "patient").status_code == 200


def test_registrations_are_limited_per_address(
    settings: AuthSettings, session: Session, auth_schema: None
) -> None:
    app = on_test_session(
        create_app(settings.model_copy(update={"register_address_limit": 3})), session
    )

    def register(client: TestClient, name: str) -> Any:
        body = {"username": name, "email": f"{name}@example.com", "password": "s3cret-pass"}
        return client.post("/auth/register", json=body)

    with TestClient(app, client=OFFICE) as office, TestClient(app) as elsewhere:
        statuses = [register(office, f"new{n}").status_code for n in range(3)]
        refused = register(office, "new3")
        taken = register(office, "new0")  # a 409 would be counted too: it is refused first
        other = register(elsewhere, "new4")

    assert statuses == [201] * 3
    assert (refused.status_code, refused.json()["code"]) == (429, "too_many_attempts")
    assert 3500 < int(refused.headers["Retry-After"]) <= 3600
    assert taken.status_code == 429
    assert other.status_code == 201


def test_a_login_reads_the_counts_in_the_same_statement_as_the_hash(
    client: TestClient, session: Session
) -> None:
    create_user(session, username="counted")
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", record)
    try:
        assert _login(client, "counted").status_code == 200
    finally:
        event.remove(connection, "before_cursor_execute", record)

    # The counts come with the stored hash; a clean account's success adds no statement.
    counts = [statement for statement in statements if "login_attempt" in statement]
    assert len(counts) == 1
    assert "password_hash" in counts[0]


def test_a_burst_of_guesses_at_one_account_is_counted_guess_by_guess(app: FastAPI) -> None:
    async def burst() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://auth") as client:
            body = {"username": "target", "password": "guess"}
            responses = await asyncio.gather(
                *(client.post("/auth/login", json=body) for _ in range(12))
            )
        return sorted(response.status_code for response in responses)

    # All at once, yet only the free failures (and the one that starts the wait) are checked.
    assert asyncio.run(burst()) == [401] * 6 + [429] * 6


GATEWAY_SECRET = "0123456789abcdef" * 4
POD = ("10.1.2.3", 41000)  # any pod of the cluster that may reach auth


def _deployed_auth(settings: AuthSettings, session: Session) -> FastAPI:
    """Auth as Kubernetes runs it: its settings with the gateway's secret, behind uvicorn's
    X-Forwarded-For handling configured from `k8s/10-config.yaml`."""
    config = yaml.safe_load_all((ROOT / "k8s" / "10-config.yaml").read_text())
    [shared] = [doc for doc in config if doc["metadata"]["name"] == "efficient-config"]
    app = on_test_session(
        create_app(settings.model_copy(update={"gateway_secret": SecretStr(GATEWAY_SECRET)})),
        session,
    )
    trusted = shared["data"].get("FORWARDED_ALLOW_IPS", "127.0.0.1")  # uvicorn's default
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted)
    return app


def _counted_addresses(session: Session) -> list[str]:
    rows = session.scalars(select(LoginAttempt.key).where(LoginAttempt.scope == "address"))
    return sorted(rows)


def test_only_the_gateway_may_name_the_client_address(
    settings: AuthSettings, session: Session, auth_schema: None
) -> None:
    forged = {"X-Forwarded-For": "198.51.100.1"}
    proven = {"X-Forwarded-For": "198.51.100.2", "X-Gateway-Secret": GATEWAY_SECRET}
    wrong = {"X-Forwarded-For": "198.51.100.3", "X-Gateway-Secret": GATEWAY_SECRET[::-1]}
    body = {"username": "somebody", "password": "guess"}

    with TestClient(_deployed_auth(settings, session), client=POD) as pod:
        statuses = [
            pod.post("/auth/login", json=body, headers=h).status_code
            for h in (forged, proven, wrong)
        ]

    assert statuses == [401] * 3
    # The forged and the wrongly proven requests count against the pod's own address.
    assert _counted_addresses(session) == ["10.1.2.3", "198.51.100.2"]
