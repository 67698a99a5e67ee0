from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from services.auth.tests.factories import create_access_token, create_foreign_key, create_user


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def token(app: FastAPI, session: Session) -> str:
    user = create_user(session, username="reader")
    return create_access_token(app.state.signing_key, user_id=user.id)


def test_me_returns_the_signed_in_user(client: TestClient, session: Session) -> None:
    create_user(session, username="olivia", email="olivia@example.com")
    tokens = client.post(
        "/auth/login", json={"username": "olivia", "password": "correct-horse-battery"}
    ).json()

    response = client.get("/auth/me", headers=_headers(tokens["access_token"]))

    assert response.status_code == 200
    assert response.json()["username"] == "olivia"
    assert response.json()["email"] == "olivia@example.com"
    assert "password_hash" not in response.json()


def test_me_without_a_token_is_401(client: TestClient) -> None:
    response = client.get("/auth/me")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def _none_token() -> str:
    header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode()
    claims = jwt.utils.base64url_encode(b'{"sub":"1","role":"admin"}').decode()
    return f"{header}.{claims}."


@pytest.mark.parametrize(
    ("make_token", "code"),
    [
        (
            lambda key: create_access_token(key, issued_at=datetime.now(UTC) - timedelta(hours=1)),
            "token_expired",
        ),
        (lambda key: create_access_token(create_foreign_key()), "invalid_token"),
        (lambda key: create_access_token(key, audience="someone-else"), "invalid_token"),
        (lambda key: create_access_token(key, issuer="someone-else"), "invalid_token"),
        (lambda key: _none_token(), "invalid_token"),
        (lambda key: "not.a.jwt", "invalid_token"),
        (lambda key: "garbage", "invalid_token"),
    ],
    ids=["expired", "foreign-key", "wrong-aud", "wrong-iss", "alg-none", "bad-parts", "garbage"],
)
def test_bad_tokens_are_401(
    client: TestClient, app: FastAPI, make_token: object, code: str
) -> None:
    assert callable(make_token)
    token = make_token(app.state.signing_key)

    response = client.get("/auth/me", headers=_headers(token))

    assert response.status_code == 401
    assert response.json()["code"] == code


def test_token_signed_by_another_key_under_our_kid_is_401(client: TestClient, app: FastAPI) -> None:
    forged = jwt.encode(
        {
            "sub": "1",
            "role": "admin",
            "iss": "efficient-system-auth",
            "aud": "efficient-system",
            "iat": int(datetime.now(UTC).timestamp()),
            "exp": int((datetime.now(UTC) + timedelta(minutes=5)).timestamp()),
        },
        create_foreign_key().private_key,
        algorithm="EdDSA",
        headers={"kid": app.state.signing_key.kid},
    )

    assert client.get("/auth/me", headers=_headers(forged)).status_code == 401


def test_me_for_a_deleted_user_is_404(client: TestClient, app: FastAPI) -> None:
    token = create_access_token(app.state.signing_key, user_id=987654)

    assert client.get("/auth/me", headers=_headers(token)).status_code == 404


def test_users_are_listed_by_page(client: TestClient, session: Session, token: str) -> None:
    for name in ("u_a", "u_b", "u_c"):
        create_user(session, username=name)

    first = client.get(
        "/auth/users", params={"page_size": 2, "total": "true"}, headers=_headers(token)
    ).json()
    last = client.get(
        "/auth/users", params={"page_size": 2, "page": 2}, headers=_headers(token)
    ).json()

    assert first["total"] == 4
    assert first["next_page"] == 2
    assert [set(item) for item in first["items"]] == [{"id", "username"}] * 2
    assert len(last["items"]) == 2
    assert last["next_page"] is None
    names = [item["username"] for item in first["items"] + last["items"]]
    assert names == ["reader", "u_a", "u_b", "u_c"]


def test_users_can_be_filtered_by_id(client: TestClient, session: Session, token: str) -> None:
    wanted = create_user(session, username="wanted")
    create_user(session, username="unwanted")

    response = client.get("/auth/users", params={"id": [wanted.id]}, headers=_headers(token))

    assert [item["username"] for item in response.json()["items"]] == ["wanted"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page_size": 201}, "page_size"),
        ({"page_size": 0}, "page_size"),
        ({"page": 0}, "page"),
        ({"page": "x"}, "page"),
        ({"id": "x"}, "id.0"),
        ({"id": 2**63}, "id.0"),
    ],
)
def test_bad_paging_is_422_naming_the_parameter(
    client: TestClient, token: str, params: dict[str, str | int], field: str
) -> None:
    response = client.get("/auth/users", params=params, headers=_headers(token))

    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert (error["field"], error["location"]) == (field, "query")


def test_users_need_a_token(client: TestClient) -> None:
    assert client.get("/auth/users").status_code == 401
    assert client.get("/auth/users/1").status_code == 401


def test_one_user_by_id(client: TestClient, session: Session, token: str) -> None:
    user = create_user(session, username="single")

    found = client.get(f"/auth/users/{user.id}", headers=_headers(token))
    missing = client.get("/auth/users/999999", headers=_headers(token))
    bad = client.get("/auth/users/abc", headers=_headers(token))
    too_big = client.get(f"/auth/users/{2**63}", headers=_headers(token))

    assert found.json() == {"id": user.id, "username": "single"}
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    assert bad.status_code == 422
    assert too_big.status_code == 422


def test_jwks_publishes_only_the_public_key(client: TestClient, app: FastAPI) -> None:
    response = client.get("/auth/.well-known/jwks.json")

    assert response.status_code == 200
    [key] = response.json()["keys"]
    assert key["kid"] == app.state.signing_key.kid
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
    assert "d" not in key
    assert "max-age" in response.headers["Cache-Control"]
