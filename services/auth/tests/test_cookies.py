"""Cookie delivery of the refresh token (`X-Token-Delivery: cookie`), as the web app uses it."""

from http.cookies import SimpleCookie
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from services.auth.tests.factories import DEFAULT_PASSWORD, create_user

COOKIE_MODE = {"X-Token-Delivery": "cookie"}


def _set_cookie(response_headers: list[str]) -> SimpleCookie:
    assert len(response_headers) == 1, response_headers
    cookie: SimpleCookie = SimpleCookie()
    cookie.load(response_headers[0])
    return cookie


def _cookie_login(client: TestClient, username: str) -> str:
    response = client.post(
        "/auth/login",
        json={"username": username, "password": DEFAULT_PASSWORD},
        headers=COOKIE_MODE,
    )
    assert response.status_code == 200, response.text
    return _set_cookie(response.headers.get_list("set-cookie"))["refresh_token"].value


def _refresh(
    client: TestClient, token: str | None, headers: dict[str, str] = COOKIE_MODE
) -> Any:  # TestClient's response
    cookies = {"Cookie": f"refresh_token={token}"} if token else {}
    client.cookies.clear()
    return client.post("/auth/refresh", headers={**headers, **cookies})


def test_cookie_login_sets_an_httponly_strict_cookie_and_hides_the_token(
    client: TestClient, session: Session
) -> None:
    create_user(session, username="cookie-ann")

    response = client.post(
        "/auth/login",
        json={"username": "cookie-ann", "password": DEFAULT_PASSWORD},
        headers=COOKIE_MODE,
    )

    assert response.status_code == 200
    assert "refresh_token" not in response.json()
    assert response.json()["access_token"]
    morsel = _set_cookie(response.headers.get_list("set-cookie"))["refresh_token"]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "strict"
    assert morsel["path"] == "/auth"
    assert morsel["secure"] is True  # http://testserver is not a loopback host
    assert int(morsel["max-age"]) == 14 * 24 * 3600


def test_json_login_sets_no_cookie(client: TestClient, session: Session) -> None:
    create_user(session, username="cookie-bob")

    response = client.post(
        "/auth/login", json={"username": "cookie-bob", "password": DEFAULT_PASSWORD}
    )

    assert response.json()["refresh_token"]
    assert "set-cookie" not in response.headers


def test_cookie_refresh_rotates_the_cookie(client: TestClient, session: Session) -> None:
    create_user(session, username="cookie-cid")
    first = _cookie_login(client, "cookie-cid")

    response = _refresh(client, first)
    again = _refresh(client, first)

    assert response.status_code == 200, response.text
    assert "refresh_token" not in response.json()
    second = _set_cookie(response.headers.get_list("set-cookie"))["refresh_token"].value
    assert second != first
    assert again.status_code == 401
    assert again.json()["code"] == "invalid_refresh_token"


def test_the_cookie_is_ignored_without_the_header(client: TestClient, session: Session) -> None:
    """CSRF: a cross-site form or plain fetch cannot add the header, so the cookie alone fails."""
    create_user(session, username="cookie-dan")
    token = _cookie_login(client, "cookie-dan")

    response = _refresh(client, token, headers={})
    still_valid = _refresh(client, token)

    assert (response.status_code, response.json()["code"]) == (401, "invalid_refresh_token")
    assert still_valid.status_code == 200  # the cookie was not used, so not rotated


@pytest.mark.parametrize("value", ["yes", "json"])
def test_an_unknown_delivery_is_422(client: TestClient, value: str) -> None:
    response = client.post(
        "/auth/refresh", json={"refresh_token": "x"}, headers={"X-Token-Delivery": value}
    )
    assert response.status_code == 422


def test_cookie_refresh_without_a_cookie_is_401(client: TestClient) -> None:
    response = _refresh(client, None)

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_refresh_token"


def test_cookie_logout_revokes_and_clears_the_cookie(client: TestClient, session: Session) -> None:
    create_user(session, username="cookie-eve")
    token = _cookie_login(client, "cookie-eve")
    client.cookies.clear()

    response = client.post(
        "/auth/logout", headers={**COOKIE_MODE, "Cookie": f"refresh_token={token}"}
    )

    assert response.status_code == 204
    cleared = _set_cookie(response.headers.get_list("set-cookie"))["refresh_token"]
    assert cleared.value == ""
    assert cleared["max-age"] == "0"
    assert _refresh(client, token).status_code == 401


def test_local_http_behind_the_gateway_drops_secure_and_scopes_the_path(
    app: FastAPI, session: Session
) -> None:
    create_user(session, username="cookie-fay")
    with TestClient(app, base_url="http://127.0.0.1:8080") as local:
        response = local.post(
            "/auth/login",
            json={"username": "cookie-fay", "password": DEFAULT_PASSWORD},
            headers={**COOKIE_MODE, "X-Forwarded-Prefix": "/api"},
        )

    morsel = _set_cookie(response.headers.get_list("set-cookie"))["refresh_token"]
    assert morsel["secure"] == ""
    assert morsel["path"] == "/api/auth"
