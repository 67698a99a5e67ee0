"""Signing-key rotation: a new key is published first, then signs; the previous one still
verifies; the JWKS has every key a token may name."""

import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from conftest import on_test_session, service_settings
from services.auth.config import AuthSettings
from services.auth.keys import SigningKey, generate_pem, load_keys, promote, stage
from services.auth.main import create_app
from services.auth.manage import PUBLICATION_DELAY_SECONDS, promote_key, rotate_key
from services.auth.tests.factories import DEFAULT_PASSWORD, create_access_token, create_user


def _file_settings(database_url: str, tmp_path: Path) -> AuthSettings:
    key_file, previous_file = tmp_path / "signing-key.pem", tmp_path / "previous-key.pem"
    key_file.write_bytes(generate_pem())
    return service_settings(
        AuthSettings,
        database_url,
        jwt_private_key_file=key_file,
        jwt_previous_key_file=previous_file,
        jwt_next_key_file=tmp_path / "next-key.pem",
    )


def _rotate(settings: AuthSettings) -> str:
    """Both steps of a rotation, the second once the publication delay has passed."""
    staged = rotate_key(settings, next_file=None)
    later = time.time() + PUBLICATION_DELAY_SECONDS
    return staged + promote_key(
        settings, key_file=None, previous_file=None, next_file=None, now=later
    )


def _rotate_files(tmp_path: Path) -> None:
    stage(next_file=tmp_path / "next-key.pem")
    promote(
        key_file=tmp_path / "signing-key.pem",
        previous_file=tmp_path / "previous-key.pem",
        next_file=tmp_path / "next-key.pem",
    )


def test_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_key(
    database_url: str, tmp_path: Path, session: Session, auth_schema: None
) -> None:
    settings = _file_settings(database_url, tmp_path)
    user = create_user(session, username="rotated")
    old_key = load_keys(settings).signing
    old_token = create_access_token(old_key, user_id=user.id)

    message = _rotate(settings)

    with TestClient(on_test_session(create_app(settings), session)) as client:
        jwks = client.get("/auth/.well-known/jwks.json").json()
        me = client.get("/auth/me", headers={"Authorization": f"Bearer {old_token}"})
        login = client.post(
            "/auth/login", json={"username": "rotated", "password": DEFAULT_PASSWORD}
        )
    new_kid = jwt.get_unverified_header(login.json()["access_token"])["kid"]
    assert new_kid != old_key.kid
    assert new_kid in message
    assert [key["kid"] for key in jwks["keys"]] == [new_kid, old_key.kid]
    assert all("d" not in key for key in jwks["keys"])
    assert me.status_code == 200  # signed before the rotation, still valid
    assert SigningKey.from_pem((tmp_path / "previous-key.pem").read_bytes()).kid == old_key.kid


def test_a_second_rotation_retires_the_oldest_key(database_url: str, tmp_path: Path) -> None:
    settings = _file_settings(database_url, tmp_path)
    first = load_keys(settings).signing.kid

    _rotate_files(tmp_path)
    second = load_keys(settings).signing.kid
    _rotate_files(tmp_path)

    published = [key["kid"] for key in load_keys(settings).jwks()["keys"]]
    assert first not in published
    assert published[1] == second
    assert (tmp_path / "signing-key.pem").stat().st_mode & 0o777 == 0o600


def test_the_previous_key_may_be_a_public_pem_or_an_empty_file(
    database_url: str, tmp_path: Path
) -> None:
    settings = _file_settings(database_url, tmp_path)
    previous = SigningKey.from_pem(generate_pem())
    (tmp_path / "previous-key.pem").write_bytes(b"")
    assert len(load_keys(settings).jwks()["keys"]) == 1

    public_pem = previous.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (tmp_path / "previous-key.pem").write_bytes(public_pem)

    assert [key["kid"] for key in load_keys(settings).jwks()["keys"]][1] == previous.kid


def test_the_generated_local_key_rotates_beside_itself(database_url: str, tmp_path: Path) -> None:
    settings = service_settings(
        AuthSettings, database_url, jwt_generated_key_path=tmp_path / "auth-signing-key.pem"
    )
    first = load_keys(settings).signing.kid

    _rotate(settings)

    keys = load_keys(settings)
    assert keys.signing.kid != first
    assert keys.previous is not None
    assert keys.previous["kid"] == first
    assert (tmp_path / "auth-signing-key.previous.pem").exists()
    assert (tmp_path / "auth-signing-key.next.pem").read_bytes() == b""  # promoted


def test_an_inline_key_cannot_be_rotated_in_place(database_url: str) -> None:
    settings = service_settings(AuthSettings, database_url, jwt_private_key=generate_pem().decode())

    with pytest.raises(ValueError, match="must be files"):
        promote_key(settings, key_file=None, previous_file=None, next_file=None)


def _signed_kid(client: TestClient, username: str) -> str:
    login = client.post("/auth/login", json={"username": username, "password": DEFAULT_PASSWORD})
    return str(jwt.get_unverified_header(login.json()["access_token"])["kid"])


def test_a_new_key_is_published_before_anything_is_signed_with_it(
    database_url: str, tmp_path: Path, session: Session, auth_schema: None
) -> None:
    settings = _file_settings(database_url, tmp_path)
    create_user(session, username="staged")
    current = load_keys(settings).signing.kid

    staged_message = rotate_key(settings, next_file=None)
    with TestClient(on_test_session(create_app(settings), session)) as client:
        staged_jwks = [
            key["kid"] for key in client.get("/auth/.well-known/jwks.json").json()["keys"]
        ]
        signed_while_staged = _signed_kid(client, "staged")
    with pytest.raises(ValueError, match="promote it 300 s later"):  # not published long enough
        promote_key(settings, key_file=None, previous_file=None, next_file=None)
    promote_key(
        settings,
        key_file=None,
        previous_file=None,
        next_file=None,
        now=time.time() + PUBLICATION_DELAY_SECONDS,
    )
    with TestClient(on_test_session(create_app(settings), session)) as client:
        promoted_jwks = [
            key["kid"] for key in client.get("/auth/.well-known/jwks.json").json()["keys"]
        ]
        signed_after = _signed_kid(client, "staged")

    [next_kid] = [kid for kid in staged_jwks if kid != current]
    assert next_kid in staged_message
    assert staged_jwks == [current, next_kid]  # published...
    assert signed_while_staged == current  # ...but signing nothing yet
    assert (signed_after, promoted_jwks) == (next_kid, [next_kid, current])


def test_a_second_key_is_not_staged_over_the_first(database_url: str, tmp_path: Path) -> None:
    settings = _file_settings(database_url, tmp_path)
    rotate_key(settings, next_file=None)

    with pytest.raises(ValueError, match="already holds a staged key"):
        rotate_key(settings, next_file=None)
    (tmp_path / "next-key.pem").unlink()
    with pytest.raises(ValueError, match="no staged key"):
        promote_key(settings, key_file=None, previous_file=None, next_file=None, now=time.time())
