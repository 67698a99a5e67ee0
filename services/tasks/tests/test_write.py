from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from services.tasks.models import Task
from services.tasks.tests.factories import create_task, outbox_events
from shared.contracts.events import TaskEvent, TaskSnapshot, TaskStatus
from shared.contracts.roles import Role
from tests.auth_users import FakeAuthUsers
from tests.tokens import TestSigner


def _create(client: TestClient, signer: TestSigner, user_id: int = 1, **body: Any) -> Any:
    body.setdefault("title", "Plan the sprint")
    return client.post("/tasks/", json=body, headers=signer.headers(user_id))


def test_create_returns_the_task(client: TestClient, signer: TestSigner) -> None:
    response = _create(
        client,
        signer,
        user_id=7,
        description="Two weeks",
        assignee_id=8,
        due_date="2030-01-31T12:00:00Z",
    )

    assert response.status_code == 201
    task = response.json()
    assert task["title"] == "Plan the sprint"
    assert task["description"] == "Two weeks"
    assert task["status"] == "todo"
    assert (task["creator_id"], task["assignee_id"]) == (7, 8)
    assert task["due_date"] == "2030-01-31T12:00:00Z"
    assert task["completed_at"] is None
    assert task["version"] == 1
    assert task["created_at"] == task["updated_at"]
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"/tasks/{task['id']}"


def test_create_writes_its_event_in_the_outbox(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    task = _create(client, signer, user_id=3).json()

    [row] = outbox_events(session, task_id=task["id"])
    event = TaskEvent.model_validate(row.payload)
    assert event.event_type == "task.created"
    assert (event.actor_id, event.task_id, event.version) == (3, task["id"], 1)
    assert event.task.model_dump(mode="json") == task
    assert event.changes == {}
    assert row.published_at is None


def test_create_done_sets_completed_at(client: TestClient, signer: TestSigner) -> None:
    task = _create(client, signer, status="done").json()

    assert task["completed_at"] == task["created_at"]


def test_naive_due_date_means_utc(client: TestClient, signer: TestSigner) -> None:
    task = _create(client, signer, due_date="2030-05-01T08:30:00").json()

    assert task["due_date"] == "2030-05-01T08:30:00Z"


def test_due_date_with_offset_is_stored_in_utc(client: TestClient, signer: TestSigner) -> None:
    task = _create(client, signer, due_date="2030-05-01T08:30:00+02:00").json()

    assert task["due_date"] == "2030-05-01T06:30:00Z"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": 5}, "title"),
        ({"title": "nul\x00byte"}, "title"),
        ({"description": "nul\x00byte"}, "description"),
        ({"due_date": "0001-01-01T00:00:00+05:00"}, "due_date"),
        ({"due_date": "9999-12-31T23:00:00-05:00"}, "due_date"),
        ({"description": "d" * 10_001}, "description"),
        ({"status": "finished"}, "status"),
        ({"due_date": "next tuesday"}, "due_date"),
        ({"due_date": "2030-02-30T00:00:00Z"}, "due_date"),
        ({"assignee_id": 0}, "assignee_id"),
        ({"assignee_id": 2**63}, "assignee_id"),
        ({"assignee_id": "abc"}, "assignee_id"),
        ({"creator_id": 5}, "creator_id"),
        ({"version": 9}, "version"),
    ],
)
def test_invalid_create_is_422_naming_the_field(
    client: TestClient, signer: TestSigner, session: Session, body: dict[str, Any], field: str
) -> None:
    response = _create(client, signer, **body)

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert outbox_events(session) == []


def test_missing_title_is_422(client: TestClient, signer: TestSigner) -> None:
    response = client.post("/tasks/", json={}, headers=signer.headers(1))

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "title"


def test_malformed_json_is_400(client: TestClient, signer: TestSigner) -> None:
    response = client.post(
        "/tasks/",
        content=b'{"title": "a"',
        headers={**signer.headers(1), "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"


def test_unknown_assignee_is_422(
    client: TestClient, signer: TestSigner, session: Session, fake_auth: FakeAuthUsers
) -> None:
    response = _create(client, signer, assignee_id=5000)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "assignee_id"
    assert "5000" in response.json()["errors"][0]["message"]
    assert outbox_events(session) == []


def test_auth_down_is_503_and_nothing_is_written(
    client: TestClient, signer: TestSigner, session: Session, fake_auth: FakeAuthUsers
) -> None:
    fake_auth.up = False

    response = _create(client, signer, assignee_id=2)

    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert session.scalar(select(func.count()).select_from(Task)) == 0


def test_task_without_assignee_needs_no_auth_call(
    client: TestClient, signer: TestSigner, fake_auth: FakeAuthUsers
) -> None:
    fake_auth.up = False

    assert _create(client, signer).status_code == 201


def test_get_returns_the_task_with_its_etag(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    task = create_task(session, title="Read me")

    response = client.get(f"/tasks/{task.id}", headers=signer.headers(50))

    assert response.status_code == 200
    assert response.json()["title"] == "Read me"
    assert response.headers["ETag"] == '"1"'


@pytest.mark.parametrize(
    ("task_id", "status"), [("999999", 404), ("0", 422), ("abc", 422), (str(2**63), 422)]
)
def test_get_unknown_or_bad_id(
    client: TestClient, signer: TestSigner, task_id: str, status: int
) -> None:
    assert client.get(f"/tasks/{task_id}", headers=signer.headers(1)).status_code == status


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_update_changes_only_the_given_fields(
    client: TestClient, signer: TestSigner, session: Session, method: str
) -> None:
    task = create_task(session, title="Old", description="Keep me", creator_id=1)

    response = client.request(
        method, f"/tasks/{task.id}", json={"title": "New"}, headers=signer.headers(1)
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["description"], body["version"]) == ("New", "Keep me", 2)
    assert response.headers["ETag"] == '"2"'
    [row] = outbox_events(session, task_id=task.id)
    event = TaskEvent.model_validate(row.payload)
    assert event.event_type == "task.updated"
    assert event.version == 2
    assert {name: (c.old, c.new) for name, c in event.changes.items()} == {"title": ("Old", "New")}


def test_status_done_sets_and_leaving_done_clears_completed_at(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    task = create_task(session, creator_id=1)

    done = client.patch(f"/tasks/{task.id}", json={"status": "done"}, headers=signer.headers(1))
    reopened = client.patch(
        f"/tasks/{task.id}", json={"status": "in_progress"}, headers=signer.headers(1)
    )

    assert done.json()["completed_at"] == done.json()["updated_at"]
    assert reopened.json()["completed_at"] is None
    events = [TaskEvent.model_validate(row.payload) for row in outbox_events(session)]
    assert set(events[0].changes) == {"status", "completed_at"}
    assert events[0].changes["status"].new == TaskStatus.DONE


def test_null_clears_optional_fields_but_not_required_ones(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    task = create_task(session, description="x", assignee_id=2, creator_id=1)

    cleared = client.patch(
        f"/tasks/{task.id}",
        json={"description": None, "assignee_id": None},
        headers=signer.headers(1),
    )
    null_title = client.patch(f"/tasks/{task.id}", json={"title": None}, headers=signer.headers(1))
    null_status = client.patch(
        f"/tasks/{task.id}", json={"status": None}, headers=signer.headers(1)
    )

    assert (cleared.json()["description"], cleared.json()["assignee_id"]) == (None, None)
    assert null_title.status_code == 422
    assert null_title.json()["errors"][0]["field"] == "title"
    assert null_status.status_code == 422


def test_update_that_changes_nothing_writes_no_event(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    task = create_task(session, title="Same", creator_id=1)

    response = client.patch(f"/tasks/{task.id}", json={"title": "Same"}, headers=signer.headers(1))

    assert response.status_code == 200
    assert response.json()["version"] == 1
    assert outbox_events(session) == []


def test_reassigning_to_an_unknown_user_is_422(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    task = create_task(session, creator_id=1)

    response = client.patch(
        f"/tasks/{task.id}", json={"assignee_id": 4242}, headers=signer.headers(1)
    )

    assert response.status_code == 422
    assert outbox_events(session) == []


def test_delete_removes_the_task_and_records_it_as_it_was(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    task = create_task(session, title="Doomed", creator_id=1)

    response = client.delete(f"/tasks/{task.id}", headers=signer.headers(1))

    assert response.status_code == 204
    assert client.get(f"/tasks/{task.id}", headers=signer.headers(1)).status_code == 404
    assert client.delete(f"/tasks/{task.id}", headers=signer.headers(1)).status_code == 404
    [row] = outbox_events(session, task_id=task.id)
    event = TaskEvent.model_validate(row.payload)
    assert event.event_type == "task.deleted"
    assert event.task.title == "Doomed"
    assert (event.task.version, event.version) == (1, 2)


def test_an_update_and_its_event_roll_back_together(
    client: TestClient, signer: TestSigner, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.tasks import repository

    task = create_task(session, title="Before")
    real_add = repository.add_outbox_event

    def record_then_fail(*args: Any, **kwargs: Any) -> None:
        real_add(*args, **kwargs)
        raise RuntimeError("the process dies before commit")

    monkeypatch.setattr(repository, "add_outbox_event", record_then_fail)

    with pytest.raises(RuntimeError):
        client.patch(f"/tasks/{task.id}", json={"title": "After"}, headers=signer.headers(1))

    session.rollback()
    assert session.scalar(select(Task.title).where(Task.id == task.id)) == "Before"
    assert outbox_events(session) == []


def test_a_create_whose_event_cannot_be_stored_stores_no_task(
    client: TestClient, signer: TestSigner, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.messaging import outbox

    real_values = outbox.event_values

    def unreadable_event(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {**real_values(*args, **kwargs), "payload_json": "{not json"}

    monkeypatch.setattr(outbox, "event_values", unreadable_event)

    with pytest.raises(DataError):  # the outbox half of the one statement fails: all of it does
        _create(client, signer)

    session.rollback()
    assert session.scalar(select(func.count()).select_from(Task)) == 0
    assert outbox_events(session) == []


def test_a_created_tasks_event_carries_the_id_the_database_gave_it(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    created = [_create(client, signer, title=f"task {n}").json() for n in range(3)]

    events = [TaskEvent.model_validate(row.payload) for row in outbox_events(session)]
    assert [row.task_id for row in outbox_events(session)] == [task["id"] for task in created]
    assert [(event.task_id, event.task.id) for event in events] == [
        (task["id"], task["id"]) for task in created
    ]
    stored = [
        TaskSnapshot.model_validate(row, from_attributes=True)
        for row in session.scalars(select(Task).order_by(Task.id))
    ]
    assert [event.task for event in events] == stored


def test_created_at_is_utc_now(client: TestClient, signer: TestSigner) -> None:
    before = datetime.now(UTC)

    created = datetime.fromisoformat(_create(client, signer).json()["created_at"])

    assert before <= created <= datetime.now(UTC)


def test_an_admin_may_import_a_task_with_its_history(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    response = client.post(
        "/tasks/",
        json={
            "title": "Old work",
            "status": "done",
            "created_at": "2025-03-01T09:00:00Z",
            "completed_at": "2025-03-04T17:30:00Z",
        },
        headers=signer.headers(4, role=Role.ADMIN),
    )

    assert response.status_code == 201
    task = response.json()
    assert (task["created_at"], task["completed_at"]) == (
        "2025-03-01T09:00:00Z",
        "2025-03-04T17:30:00Z",
    )
    [row] = outbox_events(session)
    assert TaskEvent.model_validate(row.payload).occurred_at == datetime(2025, 3, 1, 9, tzinfo=UTC)


def test_a_user_may_not_set_created_at(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    response = _create(client, signer, created_at="2025-03-01T09:00:00Z")

    assert response.status_code == 403
    assert outbox_events(session) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"created_at": "2999-01-01T00:00:00Z"}, "created_at"),
        (
            {"created_at": "2025-03-01T00:00:00Z", "completed_at": "2025-03-02T00:00:00Z"},
            "completed_at",
        ),
        (
            {
                "status": "done",
                "created_at": "2025-03-05T00:00:00Z",
                "completed_at": "2025-03-02T00:00:00Z",
            },
            "completed_at",
        ),
    ],
    ids=["future", "not-done", "before-created"],
)
def test_inconsistent_history_is_422(
    client: TestClient, signer: TestSigner, body: dict[str, str], field: str
) -> None:
    response = client.post(
        "/tasks/", json={"title": "x", **body}, headers=signer.headers(4, role=Role.ADMIN)
    )

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]


def test_a_blank_description_is_no_description(client: TestClient, signer: TestSigner) -> None:
    task = _create(client, signer, description="   ").json()

    assert task["description"] is None


def test_location_behind_the_gateway_carries_its_prefix(
    client: TestClient, signer: TestSigner
) -> None:
    response = client.post(
        "/tasks/", json={"title": "x"}, headers={**signer.headers(1), "X-Forwarded-Prefix": "/api"}
    )

    assert response.headers["Location"] == f"/api/tasks/{response.json()['id']}"
