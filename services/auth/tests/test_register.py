from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.auth import repository
from services.auth.models import User
from services.auth.tests.factories import create_user


def _register(client: TestClient, **overrides: Any) -> Any:
    body = {"username": "alice", "email": "alice@example.com", "password": "s3cret-pass"}
    body.update(overrides)
    return client.post("/auth/register", json=body)


def test_register_returns_the_user_without_the_hash(client: TestClient) -> None:
    response = _register(client)

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "username", "email", "role", "created_at"}
    assert body["username"] == "alice"
    assert body["email"] == "alice@example.com"
    assert body["role"] == "user"


def test_registered_user_can_log_in(client: TestClient) -> None:
    _register(client, username="bob", email="bob@example.com")

    response = client.post("/auth/login", json={"username": "bob", "password": "s3cret-pass"})

    assert response.status_code == 200


def test_stored_password_is_an_argon2id_hash(client: TestClient, session: Session) -> None:
    _register(client)

    stored = session.scalar(select(User.password_hash).where(User.username == "alice"))

    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert "m=19456,t=2,p=1" in stored


@pytest.mark.parametrize(
    ("overrides", "conflict"),
    [
        ({"email": "other@example.com"}, "username"),
        ({"username": "ALICE", "email": "other@example.com"}, "username"),
        ({"username": "alice2"}, "email"),
        ({"username": "alice2", "email": "Alice@Example.com"}, "email"),
    ],
)
def test_duplicate_username_or_email_is_409(
    client: TestClient, session: Session, overrides: dict[str, str], conflict: str
) -> None:
    create_user(session, username="alice", email="alice@example.com")

    response = _register(client, **overrides)

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert conflict in response.json()["message"]


def test_client_cannot_choose_its_role(client: TestClient, session: Session) -> None:
    response = _register(client, role="admin")

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "role"
    assert session.scalar(select(func.count()).select_from(User)) == 0


@pytest.mark.parametrize("field", ["id", "created_at", "password_hash"])
def test_server_fields_are_refused(client: TestClient, field: str) -> None:
    response = _register(client, **{field: "1"})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"username": "ab"}, "username"),
        ({"username": "a" * 51}, "username"),
        ({"username": "has space"}, "username"),
        ({"username": "émile"}, "username"),
        ({"username": 123}, "username"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a" * 250 + "@example.com"}, "email"),
        ({"password": "short12"}, "password"),
        ({"password": "p" * 129}, "password"),
        ({"password": None}, "password"),
    ],
)
def test_invalid_fields_are_422_naming_the_field(
    client: TestClient, overrides: dict[str, Any], field: str
) -> None:
    response = _register(client, **overrides)

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert [error["field"] for error in body["errors"]] == [field]
    assert field in body["message"]


def test_missing_fields_are_all_named(client: TestClient) -> None:
    response = client.post("/auth/register", json={})

    assert response.status_code == 422
    assert {error["field"] for error in response.json()["errors"]} == {
        "username",
        "email",
        "password",
    }


def test_malformed_json_is_400(client: TestClient) -> None:
    response = client.post(
        "/auth/register", content=b'{"username": ', headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"


def test_body_that_is_not_an_object_is_422(client: TestClient) -> None:
    response = client.post("/auth/register", json=["alice"])

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


def test_a_registration_that_loses_a_race_is_409(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_user(session, username="alice", email="alice@example.com")
    # The other registration commits between our check and our insert.
    monkeypatch.setattr(repository, "find_taken", lambda *_, **__: [])

    response = _register(client)

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"


@pytest.mark.parametrize(
    "body",
    [
        {"username": "nul\x00byte", "password": "whatever"},
        {"username": "x", "password": "nul\x00byte"},
    ],
)
def test_a_nul_character_in_login_is_422_or_401(client: TestClient, body: dict[str, str]) -> None:
    response = client.post("/auth/login", json=body)

    assert response.status_code in {401, 422}
    assert response.json()["code"] in {"validation_error", "invalid_credentials"}


def test_deeply_nested_json_at_login_is_400(client: TestClient) -> None:
    response = client.post(
        "/auth/login", content=b"[" * 100_000, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"
