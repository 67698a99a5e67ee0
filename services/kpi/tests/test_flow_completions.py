"""`GET /kpi/flow/completions`: a window's completed tasks with their times, page by page."""

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.kpi.tests.conftest import Fetch
from services.kpi.tests.factories import apply_events, create_event, create_next_event
from shared.contracts.events import TaskStatus
from tests.tokens import TestSigner

MARCH = {"from": "2025-03-01", "to": "2025-03-31"}


def utc(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=UTC)


def test_each_task_completed_in_the_window_with_its_lead_and_cycle_time(
    fetch: Fetch, session: Session
) -> None:
    worked = create_event(task_id=1, created_at=utc(3, 1), assignee_id=5)
    started = create_next_event(after=worked, at=utc(3, 3), status=TaskStatus.IN_PROGRESS)
    reopened = create_event(task_id=2, created_at=utc(3, 2))
    first_done = create_next_event(after=reopened, at=utc(3, 4), status=TaskStatus.DONE)
    back = create_next_event(after=first_done, at=utc(3, 5), status=TaskStatus.IN_PROGRESS)
    never_started = create_event(task_id=3, created_at=utc(3, 6))
    apply_events(
        session,
        worked,
        started,
        create_next_event(after=started, at=utc(3, 10), status=TaskStatus.DONE),
        reopened,
        first_done,
        back,
        create_next_event(after=back, at=utc(3, 8), status=TaskStatus.DONE),
        never_started,
        create_next_event(after=never_started, at=utc(3, 7), status=TaskStatus.DONE),
        create_event(task_id=4, created_at=utc(3, 1), status=TaskStatus.DONE),  # before: in
        create_event(task_id=5, created_at=utc(4, 1), status=TaskStatus.DONE),  # April: out
    )

    body = fetch("/kpi/flow/completions", **MARCH)

    day = 86400.0
    assert [
        (item["task_id"], item["completed_at"], item["lead_seconds"], item["cycle_seconds"])
        for item in body["items"]
    ] == [
        (4, "2025-03-01T00:00:00Z", 0.0, None),
        (3, "2025-03-07T00:00:00Z", 1 * day, None),
        (2, "2025-03-08T00:00:00Z", 6 * day, 3 * day),  # started at its reopen, completed again
        (1, "2025-03-10T00:00:00Z", 9 * day, 7 * day),
    ]
    assert body["items"][-1]["assignee_id"] == 5
    assert body["items"][-1]["started_at"] == "2025-03-03T00:00:00Z"
    assert body["next_cursor"] is None


def test_a_done_task_reassigned_stays_credited_to_its_assignee_at_completion(
    fetch: Fetch, session: Session
) -> None:
    created = create_event(task_id=1, created_at=utc(3, 1), assignee_id=5)
    started = create_next_event(after=created, at=utc(3, 2), status=TaskStatus.IN_PROGRESS)
    done = create_next_event(after=started, at=utc(3, 4), status=TaskStatus.DONE)
    handed_over = create_next_event(after=done, at=utc(3, 6), assignee_id=6)
    apply_events(session, created, started, done, handed_over)

    listed = fetch("/kpi/flow/completions", **MARCH)["items"]
    times = fetch("/kpi/flow/times", **MARCH, by_assignee="true")["by_assignee"]

    assert [(item["task_id"], item["assignee_id"]) for item in listed] == [(1, 5)]
    assert [
        (item["assignee_id"], item["lead"]["count"], item["cycle"]["mean_seconds"])
        for item in times
    ] == [(5, 1, 2 * 86400.0)]
    reopened = create_next_event(after=handed_over, at=utc(3, 8), status=TaskStatus.IN_PROGRESS)
    apply_events(
        session, reopened, create_next_event(after=reopened, at=utc(3, 9), status=TaskStatus.DONE)
    )
    times = fetch("/kpi/flow/times", **MARCH, by_assignee="true")["by_assignee"]
    credited = [(item["assignee_id"], item["lead"]["count"]) for item in times]
    assert [(assignee, count) for assignee, count in credited if count] == [(6, 1)]


def test_a_completion_counted_for_a_later_assignee_by_an_earlier_release_is_taken_out_there(
    fetch: Fetch, session: Session
) -> None:
    created = create_event(task_id=1, created_at=utc(3, 1), assignee_id=5)
    done = create_next_event(after=created, at=utc(3, 4), status=TaskStatus.DONE)
    handed_over = create_next_event(after=done, at=utc(3, 6), assignee_id=6)
    apply_events(session, created, done, handed_over)
    # What a release before this one left: the completion counted for the current assignee.
    session.execute(text("UPDATE kpi.task_flow SET assignee_id = 6"))
    session.execute(text("UPDATE kpi.flow_completion SET assignee_key = 6"))

    apply_events(
        session, create_next_event(after=handed_over, at=utc(3, 8), status=TaskStatus.TODO)
    )

    times = fetch("/kpi/flow/times", **MARCH, by_assignee="true")
    assert times["lead"]["count"] == 0
    assert {item["lead"]["count"] for item in times["by_assignee"]} <= {0}  # none below 0


def test_pages_follow_their_cursor_and_a_reopened_task_leaves_the_list(
    fetch: Fetch, session: Session
) -> None:
    done = [create_event(task_id=n, created_at=utc(3, n), status=TaskStatus.DONE) for n in (1, 2)]
    apply_events(
        session,
        *done,
        *(create_event(task_id=n, created_at=utc(3, n), status=TaskStatus.DONE) for n in (3, 4)),
        create_next_event(after=done[1], at=utc(3, 20), status=TaskStatus.TODO),
    )

    first = fetch("/kpi/flow/completions", **MARCH, page_size=2)
    second = fetch("/kpi/flow/completions", **MARCH, page_size=2, cursor=first["next_cursor"])

    assert [item["task_id"] for item in first["items"]] == [1, 3]
    assert [item["task_id"] for item in second["items"]] == [4]
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({**MARCH, "page_size": 201}, "page_size"),
        ({**MARCH, "cursor": "not-a-cursor"}, "cursor"),
        ({"from": "2025-03-31", "to": "2025-03-01"}, "to"),
        ({**MARCH, "tz": "Mars/Olympus"}, "tz"),
    ],
    ids=["page-size", "cursor", "window", "zone"],
)
def test_bad_queries_are_422_naming_the_parameter(
    client: TestClient, signer: TestSigner, query: dict[str, str | int], field: str
) -> None:
    response = client.get("/kpi/flow/completions", params=query, headers=signer.headers(1))

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]


def test_a_cursor_of_another_window_is_422(
    fetch: Fetch, client: TestClient, signer: TestSigner, session: Session
) -> None:
    apply_events(
        session,
        *(create_event(task_id=n, created_at=utc(3, n), status=TaskStatus.DONE) for n in (1, 2)),
    )
    cursor = fetch("/kpi/flow/completions", **MARCH, page_size=1)["next_cursor"]

    response = client.get(
        "/kpi/flow/completions",
        params={"from": "2025-03-01", "to": "2025-03-30", "cursor": cursor},
        headers=signer.headers(1),
    )

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["cursor"]
