import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from services.auth.models import RefreshToken
from services.auth.tests.factories import DEFAULT_PASSWORD, create_user
from shared.contracts.roles import Role


def _login(client: TestClient, username: str, password: str = DEFAULT_PASSWORD) -> dict[str, Any]:
    response = client.post("/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_login_with_json_returns_a_token_pair(
    client: TestClient, session: Session, app: FastAPI
) -> None:
    user = create_user(session, username="carol")

    body = _login(client, "carol")

    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15 * 60
    assert body["refresh_token"]
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "EdDSA"
    assert header["kid"] == app.state.signing_key.kid
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == str(user.id)
    assert claims["role"] == "user"
    assert claims["iss"] == "efficient-system-auth"
    assert claims["aud"] == "efficient-system"
    assert claims["exp"] - claims["iat"] == 15 * 60


def test_login_accepts_the_oauth2_password_form(client: TestClient, session: Session) -> None:
    create_user(session, username="dave")

    response = client.post(
        "/auth/login",
        data={"grant_type": "password", "username": "dave", "password": DEFAULT_PASSWORD},
    )

    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"


def test_login_username_is_case_insensitive(client: TestClient, session: Session) -> None:
    create_user(session, username="Erin")

    assert _login(client, "erin")["access_token"]


def test_admin_token_carries_the_admin_role(client: TestClient, session: Session) -> None:
    create_user(session, username="root", role=Role.ADMIN)

    token = _login(client, "root")["access_token"]

    assert jwt.decode(token, options={"verify_signature": False})["role"] == "admin"


def test_wrong_password_and_unknown_user_are_the_same_401(
    client: TestClient, session: Session
) -> None:
    create_user(session, username="frank")

    wrong = client.post("/auth/login", json={"username": "frank", "password": "not-it-at-all"})
    unknown = client.post("/auth/login", json={"username": "nobody", "password": "not-it-at-all"})

    assert wrong.status_code == unknown.status_code == 401
    for response in (wrong, unknown):
        body = response.json()
        del body["request_id"]
        assert body == {
            "type": "tag:efficient-system,2026:problems/invalid_credentials",
            "title": "Wrong username or password",
            "status": 401,
            "detail": "Incorrect username or password.",
            "instance": "/auth/login",
            "code": "invalid_credentials",
            "message": "Incorrect username or password.",
        }
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_unknown_user_costs_a_password_check_too(client: TestClient, session: Session) -> None:
    create_user(session, username="grace")

    def median_seconds(username: str) -> float:
        durations = []
        for _ in range(5):
            started = time.perf_counter()
            client.post("/auth/login", json={"username": username, "password": "wrong-password"})
            durations.append(time.perf_counter() - started)
        return statistics.median(durations)

    known, unknown = median_seconds("grace"), median_seconds("nobody-at-all")

    # Without the dummy Argon2 check an unknown user answers many times faster.
    assert unknown > known * 0.5


@pytest.mark.parametrize(
    "body",
    [{}, {"username": "x"}, {"password": "x"}, {"username": "", "password": "x"}, ["x"]],
)
def test_login_with_missing_fields_is_422(client: TestClient, body: object) -> None:
    response = client.post("/auth/login", json=body)

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


def test_login_form_without_password_is_422_naming_it(client: TestClient) -> None:
    response = client.post("/auth/login", data={"username": "x"})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "password"


def test_login_with_malformed_json_is_400(client: TestClient) -> None:
    response = client.post(
        "/auth/login", content=b"{nope", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"


def test_refresh_rotates_the_refresh_token(client: TestClient, session: Session) -> None:
    create_user(session, username="heidi")
    first = _login(client, "heidi")

    second = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    again = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})

    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    assert client.get("/auth/me", headers=_bearer(second.json())).status_code == 200
    assert again.status_code == 401
    assert again.json()["code"] == "invalid_refresh_token"


def test_reusing_a_rotated_token_revokes_the_whole_session(
    client: TestClient, session: Session
) -> None:
    create_user(session, username="ivan")
    first = _login(client, "ivan")
    second = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()

    client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    response = client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})

    assert response.status_code == 401


def test_expired_refresh_token_is_401(client: TestClient, session: Session) -> None:
    create_user(session, username="judy")
    tokens = _login(client, "judy")
    session.execute(
        update(RefreshToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )

    response = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})

    assert response.status_code == 401
    assert response.json()["code"] == "refresh_token_expired"


@pytest.mark.parametrize("body", [{}, {"refresh_token": ""}, {"refresh_token": "x" * 257}])
def test_refresh_with_bad_body_is_422(client: TestClient, body: dict[str, str]) -> None:
    assert client.post("/auth/refresh", json=body).status_code == 422


def test_unknown_refresh_token_is_401(client: TestClient) -> None:
    response = client.post("/auth/refresh", json={"refresh_token": "made-up"})

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_refresh_token"


def test_logout_revokes_the_refresh_token(client: TestClient, session: Session) -> None:
    create_user(session, username="mallory")
    tokens = _login(client, "mallory")

    response = client.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    after = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})

    assert response.status_code == 204
    assert after.status_code == 401


def test_logout_of_unknown_token_is_204_and_bad_body_is_422(client: TestClient) -> None:
    assert client.post("/auth/logout", json={"refresh_token": "made-up"}).status_code == 204
    assert client.post("/auth/logout", json={}).status_code == 422


def test_logout_keeps_other_sessions(client: TestClient, session: Session) -> None:
    create_user(session, username="niaj")
    laptop, phone = _login(client, "niaj"), _login(client, "niaj")

    client.post("/auth/logout", json={"refresh_token": laptop["refresh_token"]})

    response = client.post("/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    assert response.status_code == 200


def _bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def test_token_responses_are_never_cached(client: TestClient, session: Session) -> None:
    create_user(session, username="frank")
    login = client.post("/auth/login", json={"username": "frank", "password": DEFAULT_PASSWORD})
    refreshed = client.post("/auth/refresh", json={"refresh_token": login.json()["refresh_token"]})

    for response in (login, refreshed):
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Pragma"] == "no-cache"
