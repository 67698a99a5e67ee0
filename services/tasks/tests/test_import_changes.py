"""`changed_at` on PUT/PATCH: an admin imports a past change, dated, in its task's order."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from services.tasks.models import Task
from services.tasks.tests.factories import create_task, outbox_events
from shared.contracts.events import TaskEvent, TaskStatus
from shared.contracts.roles import Role
from tests.tokens import TestSigner

CREATED = datetime(2025, 3, 1, 9, tzinfo=UTC)


def _admin(signer: TestSigner) -> dict[str, str]:
    return signer.headers(4, role=Role.ADMIN)


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_an_admin_dates_a_change_and_its_event(
    client: TestClient, signer: TestSigner, session: Session, method: str
) -> None:
    task = create_task(session, created_at=CREATED)

    response = client.request(
        method,
        f"/tasks/{task.id}",
        json={"status": "done", "changed_at": "2025-03-04T17:30:00+02:00"},
        headers=_admin(signer),
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["version"]) == ("done", 2)
    assert body["updated_at"] == body["completed_at"] == "2025-03-04T15:30:00Z"
    [row] = outbox_events(session, task_id=task.id)
    event = TaskEvent.model_validate(row.payload)
    assert event.occurred_at == datetime(2025, 3, 4, 15, 30, tzinfo=UTC)
    assert "changed_at" not in event.changes


def test_successive_imported_changes_keep_their_order(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    task = create_task(session, created_at=CREATED)
    steps = [
        ("in_progress", "2025-03-02T10:00:00Z"),
        ("done", "2025-03-02T10:00:00Z"),  # the same moment as the one before is allowed
        ("todo", "2025-03-05T08:00:00Z"),  # a reopen
    ]

    for status, at in steps:
        response = client.patch(
            f"/tasks/{task.id}", json={"status": status, "changed_at": at}, headers=_admin(signer)
        )
        assert response.status_code == 200

    events = [TaskEvent.model_validate(row.payload) for row in outbox_events(session)]
    assert [(e.task.status, e.occurred_at.isoformat()) for e in events] == [
        (status, at.replace("Z", "+00:00")) for status, at in steps
    ]
    assert events[-1].task.completed_at is None


def test_a_user_may_not_date_a_change(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    task = create_task(session, creator_id=1, created_at=CREATED)

    response = client.patch(
        f"/tasks/{task.id}",
        json={"status": "done", "changed_at": "2025-03-04T00:00:00Z"},
        headers=signer.headers(1),
    )

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert client.get(f"/tasks/{task.id}", headers=signer.headers(1)).json()["status"] == "todo"
    assert outbox_events(session) == []


@pytest.mark.parametrize(
    "changed_at",
    ["2999-01-01T00:00:00Z", "2025-02-28T23:59:59Z", 1741000000, "yesterday"],
    ids=["future", "before-the-last-change", "a-number", "not-a-date"],
)
def test_a_change_dated_out_of_order_is_422(
    client: TestClient, signer: TestSigner, session: Session, changed_at: object
) -> None:
    task = create_task(session, created_at=CREATED)

    response = client.patch(
        f"/tasks/{task.id}",
        json={"status": "done", "changed_at": changed_at},
        headers=_admin(signer),
    )

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["changed_at"]
    assert outbox_events(session) == []


def test_a_change_dated_before_an_imported_completion_is_422(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    imported = client.post(
        "/tasks/",
        json={
            "title": "Old work",
            "status": "done",
            "created_at": "2025-01-01T00:00:00Z",
            "completed_at": "2025-01-11T00:00:00Z",
        },
        headers=_admin(signer),
    ).json()
    assert imported["updated_at"] == imported["completed_at"]  # its last change: its completion

    def change(status: str, at: str) -> Any:
        return client.patch(
            f"/tasks/{imported['id']}",
            json={"status": status, "changed_at": at},
            headers=_admin(signer),
        )

    refused = change("in_progress", "2025-01-05T00:00:00Z")
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert error["field"] == "changed_at"
    assert "2025-01-11" in error["message"]
    assert change("in_progress", "2025-01-11T00:00:00Z").status_code == 200
    done = change("done", "2025-01-12T00:00:00Z").json()
    assert (done["status"], done["completed_at"]) == ("done", "2025-01-12T00:00:00Z")
    events = [TaskEvent.model_validate(row.payload) for row in outbox_events(session)]
    assert [event.occurred_at.day for event in events] == [1, 11, 12]


def test_a_change_dated_before_the_completion_of_a_task_stored_by_an_earlier_release_is_422(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    # Earlier releases stored an imported done task with `updated_at` at its creation.
    task = create_task(session, created_at=CREATED, status=TaskStatus.DONE)
    session.execute(
        update(Task).where(Task.id == task.id).values(completed_at=CREATED + timedelta(days=10))
    )
    session.commit()

    response = client.patch(
        f"/tasks/{task.id}",
        json={"status": "todo", "changed_at": "2025-03-05T00:00:00Z"},
        headers=_admin(signer),
    )

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["changed_at"]
    assert outbox_events(session) == []
