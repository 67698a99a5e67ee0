import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from services.auth import service
from services.auth.config import AuthSettings
from services.auth.manage import create_admin
from services.auth.models import OUTBOX, User
from services.auth.passwords import Passwords
from services.auth.tests.factories import create_user
from shared.errors import ConflictError


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


def test_create_admin_creates_or_promotes(settings: AuthSettings, engine: Engine) -> None:
    username = f"admin_{uuid.uuid4().hex[:8]}"
    try:
        create_admin(
            settings,
            username=username,
            email=f"{username}@example.com",
            password="a-long-admin-password",
        )
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


def test_ensure_admin_keeps_or_resets_the_password_and_may_refuse_a_user(
    session: Session,
) -> None:
    passwords = Passwords(memory_kib=19 * 1024, time_cost=2, parallelism=1)
    create_user(session, username="squatter")

    admin = service.ensure_admin(
        session,
        username="boss",
        email="boss@example.com",
        password="first-password!",
        passwords=passwords,
    )
    service.ensure_admin(
        session,
        username="boss",
        email="boss@example.com",
        password="second-password",
        passwords=passwords,
    )
    kept = passwords.verify("first-password!", admin.password_hash)[0]
    service.ensure_admin(
        session,
        username="boss",
        email="boss@example.com",
        password="second-password",
        passwords=passwords,
        reset_password=True,
    )
    reset = passwords.verify("second-password", admin.password_hash)[0]

    assert (admin.role, kept, reset) == ("admin", True, True)
    with pytest.raises(ConflictError):
        service.ensure_admin(
            session,
            username="squatter",
            email="s@example.com",
            password="whatever-password",
            passwords=passwords,
            promote=False,
        )
