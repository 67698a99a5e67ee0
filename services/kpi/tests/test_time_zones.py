"""Day and month boundaries in the user's zone: +05:45, -03:30, the days DST starts and ends,
and the 422 of an unknown zone, on the monthly KPIs and the flow metrics."""

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from services.kpi.tests.conftest import Fetch
from services.kpi.tests.factories import apply_events, create_event, create_next_event
from shared.contracts.events import TaskStatus
from tests.tokens import TestSigner


def utc(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=UTC)


def test_a_kathmandu_month_starts_at_18_15_utc_the_day_before(
    fetch: Fetch, session: Session
) -> None:
    apply_events(
        session,
        create_event(created_at=utc(2, 28, 18, 14)),  # February 23:59 in Kathmandu
        create_event(created_at=utc(2, 28, 18, 15), status=TaskStatus.DONE),  # March 1st, 00:00
        create_event(created_at=utc(3, 15)),
        create_event(created_at=utc(3, 31, 18, 14), assignee_id=4),  # March 31st, 23:59
        create_event(created_at=utc(3, 31, 18, 15)),  # April
    )
    params = {"year": 2025, "month": 3}

    kathmandu = fetch("/kpi/completion-rate", **params, tz="Asia/Kathmandu")
    in_utc = fetch("/kpi/completion-rate", **params)

    assert (kathmandu["total_tasks"], kathmandu["completed_tasks"]) == (3, 1)
    assert (in_utc["total_tasks"], in_utc["completed_tasks"]) == (3, 0)  # 3-15, 3-31 x2
    users = fetch("/kpi/by-user", **params, tz="Asia/Kathmandu")["items"]
    assert [(item["assignee_id"], item["total"]) for item in users] == [(4, 1), (None, 2)]
    monthly = fetch("/kpi/monthly", **params, tz="Asia/Kathmandu")
    assert (monthly["total"], monthly["done"], monthly["todo"]) == (3, 1, 2)
    trend = fetch("/kpi/trend", **{"from": "2025-02", "to": "2025-04", "tz": "Asia/Kathmandu"})
    assert [point["total"] for point in trend["items"]] == [1, 3, 1]


def test_a_st_johns_month_ends_at_03_30_utc_and_counts_completions_there(
    fetch: Fetch, session: Session
) -> None:
    task = create_event(created_at=utc(3, 20))
    apply_events(
        session,
        task,
        create_next_event(after=task, at=utc(4, 1, 2, 29), status=TaskStatus.DONE),  # March 31st
        create_event(created_at=utc(4, 1, 2, 30)),  # April 1st, 00:00 in St John's (NDT -02:30)
    )

    march = fetch("/kpi/monthly", year=2025, month=3, tz="America/St_Johns")
    april = fetch("/kpi/monthly", year=2025, month=4, tz="America/St_Johns")

    assert (march["total"], march["completed_in_month"]) == (1, 1)
    assert march["avg_completion_seconds"] == (utc(4, 1, 2, 29) - utc(3, 20)).total_seconds()
    assert (april["total"], april["completed_in_month"]) == (1, 0)


def test_a_kathmandu_month_leaves_out_the_overdue_and_completions_of_its_next_month(
    fetch: Fetch, session: Session
) -> None:
    late = create_event(created_at=utc(3, 31, 20), due_date=utc(4, 2))  # April 1st, 01:45 there
    leaving = create_event(created_at=utc(3, 5))
    staying = create_event(created_at=utc(3, 5))
    apply_events(
        session,
        late,
        create_event(created_at=utc(3, 10), due_date=utc(3, 12)),
        leaving,
        create_next_event(after=leaving, at=utc(3, 31, 20), status=TaskStatus.DONE),  # April
        staying,
        create_next_event(after=staying, at=utc(3, 20), status=TaskStatus.DONE),
    )

    march = fetch("/kpi/monthly", year=2025, month=3, tz="Asia/Kathmandu")

    assert (march["total"], march["overdue"], march["completed_in_month"]) == (3, 1, 1)
    assert march["avg_completion_seconds"] == (utc(3, 20) - utc(3, 5)).total_seconds()


@pytest.mark.parametrize(
    ("tz", "day", "before", "after"),
    [
        # Berlin, 2025-03-30: 23 hours, from 23:00 UTC the day before to 22:00 UTC.
        ("Europe/Berlin", "2025-03-30", utc(3, 29, 22, 59), utc(3, 30, 21, 59)),
        # Berlin, 2025-10-26: 25 hours, from 22:00 UTC the day before to 23:00 UTC.
        ("Europe/Berlin", "2025-10-26", utc(10, 25, 21, 59), utc(10, 26, 22, 59)),
        # St John's, 2025-03-09: from 03:30 UTC to 02:30 UTC the next day.
        ("America/St_Johns", "2025-03-09", utc(3, 9, 3, 29), utc(3, 10, 2, 29)),
        # St John's, 2025-11-02: from 02:30 UTC to 03:30 UTC the next day.
        ("America/St_Johns", "2025-11-02", utc(11, 2, 2, 29), utc(11, 3, 3, 29)),
    ],
)
def test_the_days_dst_starts_and_ends_have_their_real_length(
    fetch: Fetch, session: Session, tz: str, day: str, before: datetime, after: datetime
) -> None:
    # Completed a minute before the local day, a minute after its start, in its last minute,
    # and a minute after it: two of them in the day.
    minute = timedelta(minutes=1)
    done = [before, before + 2 * minute, after, after + 2 * minute]
    events = []
    for index, done_at in enumerate(done):
        created = create_event(created_at=utc(1, 1), task_id=1000 + index)
        events += [created, create_next_event(after=created, at=done_at, status=TaskStatus.DONE)]
    apply_events(session, *events)

    body = fetch("/kpi/flow/throughput", **{"from": day, "to": day, "tz": tz, "per": "day"})

    assert body["items"] == [{"start": day, "end": day, "completed": 2}]


def test_cumulative_flow_days_follow_the_zone(fetch: Fetch, session: Session) -> None:
    task = create_event(created_at=utc(3, 1, 12))
    apply_events(
        session,
        task,
        # 2025-03-05 17:50 UTC is 23:35 on the 5th in Kathmandu, 14:20 in St John's.
        started := create_next_event(
            after=task, at=utc(3, 5, 17, 50), status=TaskStatus.IN_PROGRESS
        ),
        create_next_event(after=started, at=utc(3, 5, 18, 20), status=TaskStatus.DONE),
    )
    window = {"from": "2025-03-05", "to": "2025-03-06"}

    kathmandu = fetch("/kpi/flow/cumulative", **window, tz="Asia/Kathmandu")["items"]
    st_johns = fetch("/kpi/flow/wip", **window, tz="America/St_Johns")["items"]

    # In Kathmandu the 5th ends (18:15 UTC) with the task in progress; done on the 6th.
    assert [(d["todo"], d["in_progress"], d["done"]) for d in kathmandu] == [(0, 1, 0), (0, 0, 1)]
    # In St John's the 5th ends at 02:30 UTC on the 6th, after the completion.
    assert [d["in_progress"] for d in st_johns] == [0, 0]


BAD_ZONES = ["Mars/Olympus", "localtime", "utc+1", "Europe", ""]


@pytest.mark.parametrize(
    "path",
    [
        "/kpi/completion-rate?year=2025&month=3",
        "/kpi/by-user?",
        "/kpi/monthly?",
        "/kpi/trend?from=2025-01&to=2025-02",
        *(
            f"/kpi/flow/{name}?from=2025-01-01&to=2025-01-31"
            for name in ("times", "throughput", "wip", "ageing", "cumulative")
        ),
    ],
)
@pytest.mark.parametrize("tz", BAD_ZONES)
def test_an_unknown_zone_is_a_422_naming_tz(
    client: TestClient, signer: TestSigner, path: str, tz: str
) -> None:
    response = client.get(f"{path}&tz={tz}", headers=signer.headers(1))

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["tz"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2025-02-01", "to": "2025-01-31"}, "to"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "to"),  # 367 days
        ({"from": "2025-13-01", "to": "2025-12-31"}, "from"),
        ({"to": "2025-01-31"}, "from"),
        ({"from": "2025-01-01", "to": "2025-01-31", "per": "year"}, "per"),
    ],
)
def test_a_bad_window_is_a_422_naming_the_field(
    client: TestClient, signer: TestSigner, query: dict[str, str], field: str
) -> None:
    response = client.get("/kpi/flow/throughput", params=query, headers=signer.headers(1))

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]
