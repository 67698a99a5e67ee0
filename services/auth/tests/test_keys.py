"""Signing-key rotation: a new key signs, the previous one still verifies, the JWKS has both."""

from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from conftest import on_test_session, service_settings
from services.auth.config import AuthSettings
from services.auth.keys import SigningKey, generate_pem, load_keys, rotate
from services.auth.main import create_app
from services.auth.manage import rotate_key
from services.auth.tests.factories import DEFAULT_PASSWORD, create_access_token, create_user


def _file_settings(database_url: str, tmp_path: Path) -> AuthSettings:
    key_file, previous_file = tmp_path / "signing-key.pem", tmp_path / "previous-key.pem"
    key_file.write_bytes(generate_pem())
    return service_settings(
        AuthSettings,
        database_url,
        jwt_private_key_file=key_file,
        jwt_previous_key_file=previous_file,
    )


def test_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_key(
    database_url: str, tmp_path: Path, session: Session, auth_schema: None
) -> None:
    settings = _file_settings(database_url, tmp_path)
    user = create_user(session, username="rotated")
    old_key = load_keys(settings).signing
    old_token = create_access_token(old_key, user_id=user.id)

    message = rotate_key(settings, key_file=None, previous_file=None)

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

    rotate(key_file=tmp_path / "signing-key.pem", previous_file=tmp_path / "previous-key.pem")
    second = load_keys(settings).signing.kid
    rotate(key_file=tmp_path / "signing-key.pem", previous_file=tmp_path / "previous-key.pem")

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

    rotate_key(settings, key_file=None, previous_file=None)

    keys = load_keys(settings)
    assert keys.signing.kid != first
    assert keys.previous is not None
    assert keys.previous["kid"] == first
    assert (tmp_path / "auth-signing-key.previous.pem").exists()


def test_an_inline_key_cannot_be_rotated_in_place(database_url: str) -> None:
    settings = service_settings(AuthSettings, database_url, jwt_private_key=generate_pem().decode())

    with pytest.raises(ValueError, match="must be files"):
        rotate_key(settings, key_file=None, previous_file=None)
