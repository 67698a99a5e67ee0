"""Who may do what, for every route: creator, assignee, another user, an admin, no one."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from services.tasks.tests.factories import create_task, outbox_events
from shared.contracts.roles import Role
from tests.tokens import TestSigner

CREATOR, ASSIGNEE, OTHER, ADMIN = 1, 2, 3, 4
CALLERS = {
    "creator": (CREATOR, Role.USER),
    "assignee": (ASSIGNEE, Role.USER),
    "other": (OTHER, Role.USER),
    "admin": (ADMIN, Role.ADMIN),
}


def _headers(signer: TestSigner, caller: str) -> dict[str, str]:
    if caller == "anonymous":
        return {}
    user_id, role = CALLERS[caller]
    return signer.headers(user_id, role=role)


@pytest.mark.parametrize(
    ("caller", "expected"),
    [("creator", 200), ("assignee", 200), ("other", 200), ("admin", 200), ("anonymous", 401)],
)
def test_read(
    client: TestClient, signer: TestSigner, session: Session, caller: str, expected: int
) -> None:
    task = create_task(session, creator_id=CREATOR, assignee_id=ASSIGNEE)

    assert client.get(f"/tasks/{task.id}", headers=_headers(signer, caller)).status_code == expected
    assert client.get("/tasks/", headers=_headers(signer, caller)).status_code == expected


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize(
    ("caller", "expected"),
    [("creator", 200), ("assignee", 200), ("other", 403), ("admin", 200), ("anonymous", 401)],
)
def test_update(
    client: TestClient,
    signer: TestSigner,
    session: Session,
    method: str,
    caller: str,
    expected: int,
) -> None:
    task = create_task(session, title="Before", creator_id=CREATOR, assignee_id=ASSIGNEE)

    response = client.request(
        method, f"/tasks/{task.id}", json={"title": "After"}, headers=_headers(signer, caller)
    )

    assert response.status_code == expected
    title = client.get(f"/tasks/{task.id}", headers=_headers(signer, "admin")).json()["title"]
    assert title == ("After" if expected == 200 else "Before")
    assert len(outbox_events(session)) == (1 if expected == 200 else 0)


@pytest.mark.parametrize(
    ("caller", "expected"),
    [("creator", 204), ("assignee", 403), ("other", 403), ("admin", 204), ("anonymous", 401)],
)
def test_delete(
    client: TestClient, signer: TestSigner, session: Session, caller: str, expected: int
) -> None:
    task = create_task(session, creator_id=CREATOR, assignee_id=ASSIGNEE)

    response = client.delete(f"/tasks/{task.id}", headers=_headers(signer, caller))

    assert response.status_code == expected
    still_there = client.get(f"/tasks/{task.id}", headers=_headers(signer, "admin"))
    assert still_there.status_code == (404 if expected == 204 else 200)


@pytest.mark.parametrize("caller", ["creator", "other", "admin"])
def test_create_by_any_signed_in_user(client: TestClient, signer: TestSigner, caller: str) -> None:
    response = client.post("/tasks/", json={"title": "Mine"}, headers=_headers(signer, caller))

    assert response.status_code == 201
    assert response.json()["creator_id"] == CALLERS[caller][0]


def test_create_needs_a_token(client: TestClient) -> None:
    assert client.post("/tasks/", json={"title": "x"}).status_code == 401


def test_a_forged_token_is_refused(client: TestClient, session: Session) -> None:
    task = create_task(session, creator_id=CREATOR)
    forger = TestSigner()  # same kid, another key

    response = client.delete(f"/tasks/{task.id}", headers=forger.headers(CREATOR))

    assert response.status_code == 401
