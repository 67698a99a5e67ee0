"""`GET /kpi/by-user`: per-assignee counts, and usernames from auth (null when it cannot say)."""

from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy.orm import Session

from services.kpi.tests.conftest import Fetch
from services.kpi.tests.factories import apply_events, create_event, create_next_event
from shared.events import TaskEvent, TaskStatus
from tests.auth_users import FakeAuthUsers
from tests.tokens import TestSigner

JUNE = {"year": 2025, "month": 6}


def at(month: int) -> datetime:
    return datetime(2025, month, 10, tzinfo=UTC)


def by_user_events() -> list[TaskEvent]:
    """June: user 2 has todo, done, done; user 3 in progress; two unassigned (todo, done)."""
    moved = create_event(created_at=at(6), assignee_id=3, status=TaskStatus.DONE)
    return [
        create_event(created_at=at(6), assignee_id=2),
        create_event(created_at=at(6), assignee_id=2, status=TaskStatus.DONE),
        moved,
        create_next_event(after=moved, assignee_id=2),  # now user 2's
        create_event(created_at=at(6), assignee_id=3, status=TaskStatus.IN_PROGRESS),
        create_event(created_at=at(6)),
        create_event(created_at=at(6), status=TaskStatus.DONE),
        create_event(created_at=at(7), assignee_id=4),  # another month
    ]


def test_by_user_counts_each_assignee_and_the_unassigned(
    fetch: Fetch, signer: TestSigner, session: Session, fake_auth: FakeAuthUsers
) -> None:
    apply_events(session, *by_user_events())

    body = fetch("/kpi/by-user", **JUNE)

    assert body["items"] == [
        {"assignee_id": 2, "username": "user2", "total": 3, "done": 2, "in_progress": 0,
         "todo": 1, "completion_rate": 2 / 3},
        {"assignee_id": 3, "username": "user3", "total": 1, "done": 0, "in_progress": 1,
         "todo": 0, "completion_rate": 0.0},
        {"assignee_id": None, "username": None, "total": 2, "done": 1, "in_progress": 0,
         "todo": 1, "completion_rate": 0.5},
    ]  # fmt: skip
    [request] = fake_auth.requests
    assert request.url.params.get_list("id") == ["2", "3"]
    scheme, token = request.headers["Authorization"].split()
    assert (scheme, signer.verifier().verify(token).id) == ("Bearer", 1)  # the caller's token


@pytest.mark.parametrize(
    "failure",
    [
        None,
        httpx.Response(500, json={"code": "internal_error"}),
        httpx.Response(401, json={"code": "invalid_token"}),
        httpx.Response(200, text="not json"),
    ],
    ids=["down", "error", "refused", "garbage"],
)
def test_by_user_answers_without_usernames_when_auth_cannot(
    fetch: Fetch,
    session: Session,
    fake_auth: FakeAuthUsers,
    failure: httpx.Response | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_auth.up = failure is not None
    fake_auth.failure = failure
    apply_events(session, *by_user_events())

    items = fetch("/kpi/by-user", **JUNE)["items"]

    assert [(item["assignee_id"], item["username"]) for item in items] == [
        (2, None),
        (3, None),
        (None, None),
    ]
    assert [item["total"] for item in items] == [3, 1, 2]
    assert any("usernames_unavailable" in str(record.msg) for record in caplog.records)


def test_by_user_asks_auth_at_most_200_ids_at_a_time(
    fetch: Fetch, session: Session, fake_auth: FakeAuthUsers
) -> None:
    apply_events(session, *(create_event(created_at=at(8), assignee_id=n) for n in range(1, 202)))

    items = fetch("/kpi/by-user", year=2025, month=8)["items"]

    assert [item["username"] for item in items] == [f"user{n}" for n in range(1, 202)]
    assert [len(r.url.params.get_list("id")) for r in fake_auth.requests] == [200, 1]


def test_by_user_asks_auth_nothing_without_assignees(
    fetch: Fetch, session: Session, fake_auth: FakeAuthUsers
) -> None:
    apply_events(session, create_event(created_at=at(9)))

    items = fetch("/kpi/by-user", year=2025, month=9)["items"]

    assert [(item["assignee_id"], item["total"]) for item in items] == [(None, 1)]
    assert fake_auth.requests == []


def test_by_user_holds_no_transaction_while_it_asks_auth(
    fetch: Fetch, session: Session, fake_auth: FakeAuthUsers
) -> None:
    apply_events(session, *by_user_events())
    in_transaction: list[bool] = []
    fake_auth.on_request = lambda _: in_transaction.append(session.in_transaction())

    fetch("/kpi/by-user", year=2025, month=6)

    assert in_transaction == [False]
