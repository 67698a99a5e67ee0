"""The hooks API: admins only; endpoints, their secret, SSRF refusals, deliveries and acting on
them."""

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook

from conftest import on_test_session, service_settings
from services.hooks.config import HooksSettings
from services.hooks.main import create_app
from services.hooks.models import Delivery
from services.hooks.targets import AllowList, TargetRefusedError, check_url
from shared.contracts.roles import Role
from tests.tokens import TestSigner

RECEIVER = "http://127.0.0.1:28199/hook"  # allowed by the tests' HOOKS_ALLOWED_TARGETS
PUBLIC = "http://93.184.215.14/hook"  # a public address: no allow-list needed


@pytest.fixture
def admin(signer: TestSigner) -> dict[str, str]:
    return signer.headers(1, role=Role.ADMIN)


def _create(client: TestClient, admin: dict[str, str], **body: object) -> dict[str, object]:
    body.setdefault("url", RECEIVER)
    response = client.post("/hooks/endpoints", json=body, headers=admin)
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


def test_only_admins_manage_hooks(client: TestClient, signer: TestSigner) -> None:
    assert client.get("/hooks/endpoints").status_code == 401
    user = signer.headers(2)
    assert client.get("/hooks/endpoints", headers=user).status_code == 403
    response = client.post("/hooks/endpoints", json={"url": RECEIVER}, headers=user)
    assert response.status_code == 403
    assert client.get("/hooks/deliveries/1", headers=user).status_code == 403


def test_an_endpoint_is_created_with_a_secret_shown_once(
    client: TestClient, admin: dict[str, str]
) -> None:
    created = _create(client, admin, event_types=["task.deleted", "task.created"], description="CI")

    secret = created["secret"]
    assert isinstance(secret, str)
    assert secret.startswith("whsec_")
    Webhook(secret)  # the reference library reads it
    assert created["event_types"] == ["task.created", "task.deleted"]
    assert (created["status"], created["disabled_reason"], created["description"]) == (
        "active",
        None,
        "CI",
    )
    read = client.get(f"/hooks/endpoints/{created['id']}", headers=admin).json()
    assert "secret" not in read
    assert read == {key: value for key, value in created.items() if key != "secret"}
    listed = client.get("/hooks/endpoints", headers=admin).json()["items"]
    assert [item["id"] for item in listed] == [created["id"]]
    assert "secret" not in listed[0]


def test_every_event_type_by_default(client: TestClient, admin: dict[str, str]) -> None:
    created = _create(client, admin)
    assert created["event_types"] == ["task.created", "task.deleted", "task.updated"]


@pytest.mark.parametrize(
    "body",
    [
        {"url": RECEIVER, "event_types": ["task.archived"]},
        {"url": RECEIVER, "event_types": []},
        {"url": "ftp://example.com/hook"},
        {"url": "not a url"},
        {"url": "http://user:pw@93.184.215.14/hook"},
        {"url": RECEIVER, "secret": "whsec_mine"},
        {},
    ],
    ids=["unknown-type", "no-type", "ftp", "garbage", "credentials", "own-secret", "no-url"],
)
def test_bad_input_is_a_422(
    client: TestClient, admin: dict[str, str], body: dict[str, object]
) -> None:
    response = client.post("/hooks/endpoints", json=body, headers=admin)
    assert response.status_code == 422, response.text


@pytest.fixture
def strict_client(
    strict_settings: HooksSettings, hooks_schema: None, session: Session, signer: TestSigner
) -> Iterator[TestClient]:
    """The API without an allow-list."""
    app = on_test_session(create_app(strict_settings, token_verifier=signer.verifier()), session)
    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost:8080/hook",  # a name that resolves to 127.0.0.1
        "http://10.0.0.5/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[fe80::1]/hook",
        "http://224.0.0.1/hook",
        "http://0.0.0.0/hook",
        "http://240.0.0.1/hook",
        "http://[::ffff:127.0.0.1]/hook",
    ],
)
def test_internal_targets_are_refused_without_the_allow_list(
    strict_client: TestClient, admin: dict[str, str], url: str
) -> None:
    response = strict_client.post("/hooks/endpoints", json={"url": url}, headers=admin)

    assert response.status_code == 422, response.text
    assert "internal address" in response.text
    assert "HOOKS_ALLOWED_TARGETS" in response.text


def test_a_public_address_needs_no_allow_list(
    strict_client: TestClient, admin: dict[str, str]
) -> None:
    response = strict_client.post("/hooks/endpoints", json={"url": PUBLIC}, headers=admin)
    assert response.status_code == 201, response.text


def test_the_allow_list_admits_hosts_and_networks() -> None:
    allow = AllowList("localhost, 10.1.0.0/16")

    async def check(url: str) -> None:
        await check_url(url, allow, https_only=True)

    asyncio.run(check("http://localhost:9000/hook"))  # named: http allowed too
    with pytest.raises(TargetRefusedError, match="https"):
        asyncio.run(check("http://10.1.2.3/hook"))
    asyncio.run(check("https://10.1.2.3/hook"))
    with pytest.raises(TargetRefusedError, match="internal address"):
        asyncio.run(check("https://10.2.0.1/hook"))


def test_production_takes_https_only(
    database_url: str, hooks_schema: None, session: Session, signer: TestSigner
) -> None:
    settings = service_settings(HooksSettings, database_url).model_copy(
        update={"environment": "production"}
    )
    app = on_test_session(create_app(settings, token_verifier=signer.verifier()), session)
    admin = signer.headers(1, role=Role.ADMIN)
    with TestClient(app) as client:
        refused = client.post("/hooks/endpoints", json={"url": PUBLIC}, headers=admin)
        assert refused.status_code == 422
        assert "https" in refused.text
        secure = PUBLIC.replace("http://", "https://")
        assert (
            client.post("/hooks/endpoints", json={"url": secure}, headers=admin).status_code == 201
        )


def test_an_endpoint_is_disabled_enabled_changed_and_deleted(
    client: TestClient, admin: dict[str, str]
) -> None:
    url = f"/hooks/endpoints/{_create(client, admin)['id']}"

    disabled = client.patch(url, json={"disabled": True}, headers=admin).json()
    assert (disabled["status"], disabled["disabled_reason"]) == ("disabled", "manual")
    enabled = client.patch(url, json={"disabled": False, "description": "x"}, headers=admin)
    assert (enabled.json()["status"], enabled.json()["description"]) == ("active", "x")
    refused = client.patch(url, json={"url": "http://10.9.9.9/"}, headers=admin)
    assert refused.status_code == 422  # only 127.0.0.1/32 is allowed in these tests
    assert client.delete(url, headers=admin).status_code == 204
    assert client.get(url, headers=admin).status_code == 404
    assert client.patch(url, json={}, headers=admin).status_code == 404


def test_a_rotation_answers_a_new_secret_and_keeps_the_old_for_the_overlap(
    client: TestClient, admin: dict[str, str]
) -> None:
    created = _create(client, admin)
    before = datetime.now(UTC)

    rotated = client.post(
        f"/hooks/endpoints/{created['id']}/rotate-secret",
        json={"overlap_hours": 2},
        headers=admin,
    ).json()

    assert rotated["secret"] != created["secret"]
    assert rotated["secret"].startswith("whsec_")
    expires = datetime.fromisoformat(rotated["previous_secret_expires_at"])
    assert before + timedelta(hours=2) <= expires <= datetime.now(UTC) + timedelta(hours=2)
    default = client.post(f"/hooks/endpoints/{created['id']}/rotate-secret", headers=admin)
    assert default.status_code == 200


def test_a_ping_is_a_delivery_to_follow(client: TestClient, admin: dict[str, str]) -> None:
    endpoint = _create(client, admin)

    ping = client.post(f"/hooks/endpoints/{endpoint['id']}/ping", headers=admin)

    assert ping.status_code == 202
    assert (ping.json()["event_type"], ping.json()["status"]) == ("ping", "pending")
    detail = client.get(f"/hooks/deliveries/{ping.json()['id']}", headers=admin).json()
    assert detail["attempts"] == []
    assert detail["next_attempt_at"] is not None
    listed = client.get(f"/hooks/endpoints/{endpoint['id']}/deliveries", headers=admin).json()
    assert [item["id"] for item in listed["items"]] == [ping.json()["id"]]
    client.patch(f"/hooks/endpoints/{endpoint['id']}", json={"disabled": True}, headers=admin)
    refused = client.post(f"/hooks/endpoints/{endpoint['id']}/ping", headers=admin)
    assert refused.status_code == 409


def _fail(session: Session, delivery_id: int, *, created_at: datetime | None = None) -> None:
    values: dict[str, object] = {"status": "failed", "attempt_count": 8, "next_attempt_at": None}
    if created_at is not None:
        values["created_at"] = created_at
    session.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))


def test_redelivery_and_recovery_schedule_failed_deliveries_again(
    client: TestClient, admin: dict[str, str], session: Session
) -> None:
    endpoint = _create(client, admin)
    base = f"/hooks/endpoints/{endpoint['id']}"
    ids = [client.post(f"{base}/ping", headers=admin).json()["id"] for _ in range(4)]
    since = datetime.now(UTC) - timedelta(hours=1)
    _fail(session, ids[0], created_at=since - timedelta(hours=1))  # before `since`
    for delivery_id in ids[1:3]:
        _fail(session, delivery_id)

    failed = client.get(f"{base}/deliveries", params={"status": "failed"}, headers=admin).json()
    assert sorted(item["id"] for item in failed["items"]) == ids[:3]

    recovered = client.post(f"{base}/recover", json={"since": since.isoformat()}, headers=admin)
    assert recovered.json() == {"deliveries": 2}
    redelivered = client.post(f"/hooks/deliveries/{ids[0]}/redeliver", headers=admin).json()
    assert (redelivered["status"], redelivered["attempt_count"]) == ("pending", 0)
    pending = client.get(f"{base}/deliveries", params={"status": "pending"}, headers=admin)
    assert len(pending.json()["items"]) == 4
    naive = client.post(f"{base}/recover", json={"since": "2026-01-01T00:00:00"}, headers=admin)
    assert naive.status_code == 422
    assert client.post("/hooks/deliveries/999999/redeliver", headers=admin).status_code == 404
    assert client.get("/hooks/endpoints/999999/deliveries", headers=admin).status_code == 404
