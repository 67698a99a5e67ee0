import uuid
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from services.auth import service
from services.auth.config import AuthSettings
from services.auth.main import create_app
from services.auth.manage import create_admin, prestart
from services.auth.models import OUTBOX, User
from services.auth.tests.factories import DEFAULT_PASSWORD, PASSWORDS, create_user
from shared.core.errors import ConflictError
from tests.json_logs import json_logs


def test_health_probes(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_request_id_is_echoed_or_generated(client: TestClient) -> None:
    given = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    generated = client.get("/healthz")

    assert given.headers["X-Request-ID"] == "abc-123"
    assert uuid.UUID(generated.headers["X-Request-ID"])


def test_errors_carry_the_request_id(client: TestClient) -> None:
    response = client.get("/auth/me", headers={"X-Request-ID": "trace-me"})

    assert response.json()["request_id"] == "trace-me"


def test_unknown_route_is_404_in_the_common_shape(client: TestClient) -> None:
    response = client.get("/auth/nothing-here")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert response.json()["message"]


def test_wrong_method_is_405_in_the_common_shape(client: TestClient) -> None:
    response = client.get("/auth/register")

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_body_over_the_limit_is_413(client: TestClient) -> None:
    response = client.post(
        "/auth/register",
        content=b'{"username": "' + b"a" * (1024 * 1024) + b'"}',
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert response.json()["code"] == "content_too_large"


def test_create_admin_creates_and_is_idempotent(settings: AuthSettings, engine: Engine) -> None:
    username = f"admin_{uuid.uuid4().hex[:8]}"
    try:
        for _ in range(2):
            create_admin(
                settings,
                username=username,
                email=f"{username}@example.com",
                password="a-long-admin-password",
            )
        with Session(bind=engine) as session:
            users = session.scalars(select(User).where(User.username == username)).all()
            assert [user.role for user in users] == ["admin"]
    finally:
        with Session(bind=engine) as session:
            ids = select(User.id).where(User.username == username).scalar_subquery()
            session.execute(delete(OUTBOX.table).where(OUTBOX.table.c.user_id.in_(ids)))
            session.query(User).filter(User.username == username).delete()
            session.commit()


def _ensure_admin(session: Session, username: str, email: str, **options: Any) -> User:
    return service.ensure_admin(
        session,
        username=username,
        email=email,
        password="the-operators-password",
        passwords=PASSWORDS,
        **options,
    )


def test_a_registered_name_is_never_made_admin_by_default(
    client: TestClient, session: Session
) -> None:
    body = {"username": "root", "email": "attacker@example.com", "password": "attackers-pass"}
    assert client.post("/auth/register", json=body).status_code == 201

    with pytest.raises(ConflictError, match="not an admin"):
        _ensure_admin(session, "root", "ops@example.com")
    with pytest.raises(ConflictError, match="another email"):
        _ensure_admin(session, "root", "ops@example.com", promote=True)

    login = client.post("/auth/login", json={"username": "root", "password": "attackers-pass"})
    claims = jwt.decode(login.json()["access_token"], options={"verify_signature": False})
    assert claims["role"] == "user"


def test_promote_needs_the_flag_and_the_users_own_email(session: Session) -> None:
    user = create_user(session, username="carol", email="carol@example.com")

    _ensure_admin(session, "carol", "Carol@Example.com", promote=True)

    assert user.role == "admin"
    assert PASSWORDS.verify(DEFAULT_PASSWORD, user.password_hash)[0]  # her password is kept


def test_ensure_admin_keeps_or_resets_the_password(session: Session) -> None:
    admin = _ensure_admin(session, "boss", "boss@example.com")
    _ensure_admin(session, "boss", "boss@example.com")
    kept = PASSWORDS.verify("the-operators-password", admin.password_hash)[0]
    service.ensure_admin(
        session,
        username="boss",
        email="boss@example.com",
        password="second-password",
        passwords=PASSWORDS,
        reset_password=True,
    )
    reset = PASSWORDS.verify("second-password", admin.password_hash)[0]

    assert (admin.role, kept, reset) == ("admin", True, True)


def test_prestart_logs_a_refused_bootstrap_and_goes_on(
    settings: AuthSettings, engine: Engine, auth_schema: None, caplog: pytest.LogCaptureFixture
) -> None:
    username = f"squat_{uuid.uuid4().hex[:8]}"
    with Session(bind=engine) as session:
        create_user(session, username=username)
        session.commit()
    try:
        bootstrap = settings.model_copy(
            update={
                "admin_username": username,
                "admin_email": "ops@example.com",
                "admin_password": SecretStr("the-operators-password"),
            }
        )
        prestart(bootstrap)

        with Session(bind=engine) as session:
            role = session.scalar(select(User.role).where(User.username == username))
        assert role == "user"
        assert "admin_bootstrap_refused" in caplog.text
    finally:
        with Session(bind=engine) as session:
            session.query(User).filter(User.username == username).delete()
            session.commit()


@pytest.mark.parametrize("admin_email", [None, "ops@example.com"], ids=["default", "configured"])
def test_a_squatted_admin_email_cannot_block_the_start(
    settings: AuthSettings,
    engine: Engine,
    auth_schema: None,
    admin_email: str | None,
) -> None:
    admin = f"boss_{uuid.uuid4().hex[:8]}"
    address = admin_email or f"{admin}@localhost.localdomain"  # the default is predictable
    squatter = {"username": f"sq_{uuid.uuid4().hex[:8]}", "email": address, "password": "p" * 12}
    try:
        with TestClient(create_app(settings)) as client:
            assert client.post("/auth/register", json=squatter).status_code == 201
        bootstrap = settings.model_copy(
            update={
                "admin_username": admin,
                "admin_email": admin_email,
                "admin_password": SecretStr("the-operators-password"),
            }
        )

        with json_logs() as logs:
            prestart(bootstrap)  # no traceback: the start goes on

        with Session(bind=engine) as session:
            roles = session.execute(
                select(User.username, User.role).where(
                    User.username.in_([admin, squatter["username"]])
                )
            ).all()
        assert roles == [(squatter["username"], "user")]  # no admin made, the squatter not promoted
        [refused] = logs.lines("admin_bootstrap_refused")
        assert address in refused["reason"]
    finally:
        with Session(bind=engine) as session:
            ids = select(User.id).where(User.email == address).scalar_subquery()
            session.execute(delete(OUTBOX.table).where(OUTBOX.table.c.user_id.in_(ids)))
            session.execute(delete(User).where(User.email == address))
            session.commit()
