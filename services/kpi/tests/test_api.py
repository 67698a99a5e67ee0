"""The KPI endpoints, each answer checked against numbers worked out from the test's events."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from services.kpi import service
from services.kpi.tests.conftest import Fetch
from services.kpi.tests.factories import apply_events, create_event, create_next_event
from shared.contracts.events import TaskEvent, TaskStatus
from shared.web.months import MonthRange
from tests.tokens import TestSigner

ROUTES = ["/kpi/completion-rate", "/kpi/by-user", "/kpi/monthly"]
PAST = datetime(2025, 1, 1, tzinfo=UTC)  # a due date long gone
FUTURE = datetime(2099, 1, 1, tzinfo=UTC)


def at(month: int, day: int = 10, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """A moment in 2025, UTC."""
    return datetime(2025, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize("path", [*ROUTES, "/kpi/trend?from=2025-01&to=2025-02"])
def test_every_route_needs_a_token(client: TestClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_completion_rate_counts_tasks_by_their_utc_creation_month(
    fetch: Fetch, session: Session
) -> None:
    apply_events(
        session,
        create_event(created_at=at(2, 28, 23, 59, 59), status=TaskStatus.DONE),  # February
        create_event(created_at=at(3, 1)),
        create_event(created_at=at(3, 2), status=TaskStatus.IN_PROGRESS),
        create_event(created_at=at(3, 3), status=TaskStatus.DONE),
        create_event(created_at=at(3, 31, 23, 59, 59)),  # still March
        # 01:30 in UTC+2 on April 1st is 23:30 UTC on March 31st.
        create_event(created_at=datetime(2025, 4, 1, 1, 30, tzinfo=timezone(timedelta(hours=2)))),
        create_event(created_at=at(4, 1, 0, 0, 0), status=TaskStatus.DONE),  # April
    )

    march = fetch("/kpi/completion-rate", year=2025, month=3)
    february = fetch("/kpi/completion-rate", year=2025, month=2)

    assert march == {
        "year": 2025,
        "month": 3,
        "total_tasks": 5,
        "completed_tasks": 1,
        "completion_rate": 0.2,
    }
    assert (february["total_tasks"], february["completion_rate"]) == (1, 1.0)


def test_an_empty_month_has_a_rate_of_zero(fetch: Fetch) -> None:
    body = fetch("/kpi/completion-rate", year=2030, month=1)

    assert body == {
        "year": 2030,
        "month": 1,
        "total_tasks": 0,
        "completed_tasks": 0,
        "completion_rate": 0.0,
    }
    assert isinstance(body["completion_rate"], float)


def test_no_month_means_the_current_month(fetch: Fetch, session: Session) -> None:
    now = datetime.now(UTC)
    apply_events(session, create_event(created_at=now), create_event(created_at=PAST))

    for path in ROUTES:
        body = fetch(path)
        assert (body["year"], body["month"]) == (now.year, now.month)
    assert fetch("/kpi/completion-rate")["total_tasks"] == 1


def test_deleted_tasks_leave_every_kpi(fetch: Fetch, session: Session) -> None:
    done = create_event(created_at=at(5), assignee_id=3, status=TaskStatus.DONE)
    overdue = create_event(created_at=at(5), assignee_id=3, due_date=PAST)
    apply_events(
        session,
        done,
        overdue,
        create_next_event(after=done, deleted=True),
        create_next_event(after=overdue, deleted=True),
    )
    month = {"year": 2025, "month": 5}

    assert fetch("/kpi/completion-rate", **month)["total_tasks"] == 0
    assert fetch("/kpi/by-user", **month)["items"] == []
    monthly = fetch("/kpi/monthly", **month)
    assert (monthly["total"], monthly["completed_in_month"], monthly["overdue"]) == (0, 0, 0)
    assert monthly["avg_completion_seconds"] is None
    [point] = fetch("/kpi/trend", **{"from": "2025-05", "to": "2025-05"})["items"]
    assert (point["total"], point["done"], point["completed_in_month"]) == (0, 0, 0)


def monthly_events() -> list[TaskEvent]:
    """May: 5 live tasks (2 todo, 1 in progress, 2 done), 1 overdue; 2 completions in May."""
    done_quickly = create_event(created_at=at(5, 1), due_date=PAST)
    from_april = create_event(created_at=at(4, 30, 12))
    done_in_june = create_event(created_at=at(5, 31, 12))
    reopened = create_event(created_at=at(5, 3))
    deleted = create_event(created_at=at(5, 4), due_date=PAST)
    done_at_reopened = create_next_event(after=reopened, status=TaskStatus.DONE, at=at(5, 4))
    return [
        create_event(created_at=at(5, 2), due_date=PAST),  # todo, overdue
        create_event(created_at=at(5, 2), due_date=FUTURE, status=TaskStatus.IN_PROGRESS),
        done_quickly,
        create_next_event(after=done_quickly, status=TaskStatus.DONE, at=at(5, 1, 2)),  # 2 h
        from_april,
        create_next_event(after=from_april, status=TaskStatus.DONE, at=at(5, 2, 12)),  # 2 days
        done_in_june,
        create_next_event(after=done_in_june, status=TaskStatus.DONE, at=at(6, 1, 0)),  # 12 h
        reopened,
        done_at_reopened,
        create_next_event(after=done_at_reopened, status=TaskStatus.TODO),
        deleted,
        create_next_event(after=deleted, deleted=True),
    ]


def test_monthly_counts_statuses_completions_and_overdue(fetch: Fetch, session: Session) -> None:
    apply_events(session, *monthly_events())

    may = fetch("/kpi/monthly", year=2025, month=5)
    june = fetch("/kpi/monthly", year=2025, month=6)
    july = fetch("/kpi/monthly", year=2025, month=7)

    assert may == {
        "year": 2025,
        "month": 5,
        "total": 5,
        "todo": 2,
        "in_progress": 1,
        "done": 2,
        "completed_in_month": 2,
        "overdue": 1,
        "avg_completion_seconds": (2 * 3600 + 2 * 86400) / 2,
    }
    assert (june["total"], june["completed_in_month"]) == (0, 1)
    assert june["avg_completion_seconds"] == 12 * 3600
    assert (july["completed_in_month"], july["avg_completion_seconds"]) == (0, None)


def test_trend_has_one_point_per_month_including_empty_ones(fetch: Fetch, session: Session) -> None:
    apply_events(session, *monthly_events())

    items = fetch("/kpi/trend", **{"from": "2025-03", "to": "2025-07"})["items"]

    assert [(p["year"], p["month"]) for p in items] == [(2025, m) for m in range(3, 8)]
    rows = [
        (p["total"], p["todo"], p["in_progress"], p["done"], p["completed_in_month"]) for p in items
    ]
    assert rows == [
        (0, 0, 0, 0, 0),
        (1, 0, 0, 1, 0),
        (5, 2, 1, 2, 2),
        (0, 0, 0, 0, 1),
        (0, 0, 0, 0, 0),
    ]
    assert [p["completion_rate"] for p in items] == [0.0, 1.0, 0.4, 0.0, 0.0]


def test_trend_spans_years_and_at_most_120_months(fetch: Fetch) -> None:
    items = fetch("/kpi/trend", **{"from": "2016-01", "to": "2025-12"})["items"]

    assert len(items) == 120
    assert (items[0]["year"], items[0]["month"], items[-1]["year"], items[-1]["month"]) == (
        2016,
        1,
        2025,
        12,
    )


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"year": 2025}, "month"),
        ({"month": 5}, "year"),
        ({"year": 2025, "month": 13}, "month"),
        ({"year": 2025, "month": 0}, "month"),
        ({"year": 1969, "month": 1}, "year"),
        ({"year": 10000, "month": 1}, "year"),
        ({"year": "abc", "month": 1}, "year"),
    ],
)
def test_a_bad_month_is_422_naming_it(
    client: TestClient, signer: TestSigner, path: str, params: dict[str, object], field: str
) -> None:
    response = client.get(path, params=params, headers=signer.headers(1))  # type: ignore[arg-type]

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert [(e["field"], e["location"]) for e in body["errors"]] == [(field, "query")]


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"to": "2025-01"}, ["from"]),
        ({"from": "2025-01"}, ["to"]),
        ({}, ["from", "to"]),
        ({"from": "2025-13", "to": "2025-12"}, ["from"]),
        ({"from": "2025-00", "to": "2025-12"}, ["from"]),
        ({"from": "2025-1", "to": "2025-12"}, ["from"]),
        ({"from": "1969-12", "to": "2025-12"}, ["from"]),
        ({"from": "2025-01", "to": "December"}, ["to"]),
        ({"from": "2025-01-01", "to": "2025-02"}, ["from"]),
        ({"from": "x" * 100, "to": "2025-02"}, ["from"]),
        ({"from": "", "to": ""}, ["from", "to"]),
        ({"from": "2025-06", "to": "2025-05"}, ["to"]),
        ({"from": "2016-01", "to": "2026-01"}, ["to"]),
        ({"from": "9999-01", "to": "9999-12"}, ["from", "to"]),
    ],
)
def test_a_bad_trend_span_is_422_naming_it(
    client: TestClient, signer: TestSigner, params: dict[str, str], fields: list[str]
) -> None:
    response = client.get("/kpi/trend", params=params, headers=signer.headers(1))

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert [(e["field"], e["location"]) for e in body["errors"]] == [(f, "query") for f in fields]


def test_the_last_months_there_are_answer(client: TestClient, signer: TestSigner) -> None:
    response = client.get(
        "/kpi/trend", params={"from": "9998-11", "to": "9998-12"}, headers=signer.headers(1)
    )
    monthly = client.get(
        "/kpi/monthly", params={"year": 9998, "month": 12}, headers=signer.headers(1)
    )

    assert [item["month"] for item in response.json()["items"]] == [11, 12]
    assert monthly.json()["total"] == 0


def test_overdue_counts_every_due_date_before_now_across_days_and_hours(session: Session) -> None:
    """Due earlier months, yesterday, today before this hour, this hour before now: overdue;
    this hour after now, later today, tomorrow: not (and a done task never)."""
    now = datetime(2025, 5, 20, 14, 30, tzinfo=UTC)
    due_dates = {
        datetime(2025, 4, 2, 9, tzinfo=UTC): True,
        now - timedelta(days=1): True,
        now.replace(hour=0, minute=0): True,
        now.replace(hour=13, minute=59): True,
        now.replace(minute=5): True,
        now.replace(minute=45): False,
        now.replace(hour=23, minute=59): False,
        now + timedelta(days=1): False,
    }
    events = [create_event(created_at=at(5, 1), due_date=due) for due in due_dates]
    events.append(create_event(created_at=at(5, 1), due_date=now - timedelta(days=2)))
    events.append(create_next_event(after=events[-1], status=TaskStatus.DONE, at=at(5, 19)))
    apply_events(session, *events)

    kpi = service.monthly(session.connection(), month=MonthRange.of(2025, 5), now=now)

    assert kpi.overdue == sum(due_dates.values())
    later = service.monthly(
        session.connection(), month=MonthRange.of(2025, 5), now=now + timedelta(days=2)
    )
    assert later.overdue == len(due_dates)
