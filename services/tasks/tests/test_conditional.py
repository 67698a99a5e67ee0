"""Conditional requests on a task (RFC 9110): `If-Match` compares strongly, `If-None-Match`
weakly, and the ETag is the task's version."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from services.tasks.tests.factories import create_task, outbox_events
from tests.tokens import TestSigner


def _at_version_2(client: TestClient, signer: TestSigner, session: Session) -> int:
    task = create_task(session, title="v1", creator_id=1)
    client.patch(f"/tasks/{task.id}", json={"title": "v2"}, headers=signer.headers(1))
    return task.id


def test_stale_if_match_is_412_and_changes_nothing(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    task_id = _at_version_2(client, signer, session)
    headers = {**signer.headers(1), "If-Match": '"1"'}

    stale = client.patch(f"/tasks/{task_id}", json={"title": "v3"}, headers=headers)
    stale_delete = client.delete(f"/tasks/{task_id}", headers=headers)

    assert stale.status_code == 412
    assert stale.headers["Content-Type"] == "application/problem+json"
    assert stale.json()["code"] == "precondition_failed"
    assert '"2"' in stale.json()["detail"]
    assert stale_delete.status_code == 412
    assert client.get(f"/tasks/{task_id}", headers=signer.headers(1)).json()["title"] == "v2"
    assert len(outbox_events(session)) == 1


@pytest.mark.parametrize("value", ['W/"2"', 'W/"2", W/"1"', '"abc"', '"02"'])
def test_if_match_that_names_no_strong_current_version_is_412(
    client: TestClient, signer: TestSigner, session: Session, value: str
) -> None:
    task_id = _at_version_2(client, signer, session)

    response = client.patch(
        f"/tasks/{task_id}", json={"title": "v3"}, headers={**signer.headers(1), "If-Match": value}
    )

    assert response.status_code == 412  # a weak tag never matches (strong comparison)
    assert len(outbox_events(session)) == 1


@pytest.mark.parametrize("value", ['"2"', '"1", "2"', '  "2" ', '"7",W/"9","2"', "*", "", ", ,"])
def test_if_match_naming_the_current_version_or_empty_applies_the_write(
    client: TestClient, signer: TestSigner, session: Session, value: str
) -> None:
    task_id = _at_version_2(client, signer, session)

    response = client.patch(
        f"/tasks/{task_id}", json={"title": "v3"}, headers={**signer.headers(1), "If-Match": value}
    )

    assert response.status_code == 200
    assert response.json()["title"] == "v3"
    assert response.headers["ETag"] == '"3"'


@pytest.mark.parametrize("value", ["2", "1.5", '"1", 2', "W/2", '"a b"', '*, "2"'])
def test_malformed_if_match_is_422(
    client: TestClient, signer: TestSigner, session: Session, value: str
) -> None:
    task = create_task(session, creator_id=1)

    response = client.patch(
        f"/tasks/{task.id}", json={"title": "x"}, headers={**signer.headers(1), "If-Match": value}
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "If-Match"
    assert response.json()["errors"][0]["location"] == "header"


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ('"2"', 304),
        ('W/"2"', 304),
        ('"1", W/"2"', 304),
        ("*", 304),
        ('"1"', 200),
        ('W/"1", "3"', 200),
    ],
)
def test_get_with_if_none_match_is_304_when_it_names_the_current_version(
    client: TestClient, signer: TestSigner, session: Session, value: str, status: int
) -> None:
    task_id = _at_version_2(client, signer, session)

    response = client.get(
        f"/tasks/{task_id}", headers={**signer.headers(1), "If-None-Match": value}
    )

    assert response.status_code == status
    assert response.headers["ETag"] == '"2"'
    if status == 304:
        assert response.content == b""  # weak comparison: W/"2" names version 2 too
    else:
        assert response.json()["version"] == 2


def test_if_none_match_on_a_missing_task_is_404_and_a_malformed_one_422(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    task = create_task(session, creator_id=1)
    headers = signer.headers(1)

    missing = client.get("/tasks/999999", headers={**headers, "If-None-Match": "*"})
    malformed = client.get(f"/tasks/{task.id}", headers={**headers, "If-None-Match": "1"})

    assert missing.status_code == 404
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["field"] == "If-None-Match"
