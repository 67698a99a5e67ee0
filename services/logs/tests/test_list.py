"""GET /logs/: filters, month, order, pages, a task's history, bad input, sign-in."""

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.logs.models import ActionType
from services.logs.tests.factories import create_log_entry
from tests.tokens import TestSigner


def _list(client: TestClient, signer: TestSigner, **params: object) -> dict[str, object]:
    params.setdefault("total", "true")  # the totals these tests check are counted on request
    response = client.get("/logs/", params=params, headers=signer.headers(1))  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def _details(page: dict[str, object]) -> list[str]:
    items = page["items"]
    assert isinstance(items, list)
    return [item["detail"] for item in items]


def _this_month(day: int = 1, hour: int = 12) -> datetime:
    return datetime.now(UTC).replace(day=day, hour=hour, minute=0, second=0, microsecond=0)


def test_an_entry_has_its_documented_shape(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    at = _this_month()
    entry = create_log_entry(
        session,
        task_id=42,
        user_id=7,
        action_type=ActionType.TASK_UPDATED,
        detail="Status changed to done",
        created_at=at,
    )

    items = _list(client, signer)["items"]

    assert items == [
        {
            "id": entry.id,
            "task_id": 42,
            "user_id": 7,
            "action_type": "task_updated",
            "detail": "Status changed to done",
            "created_at": at.isoformat().replace("+00:00", "Z"),
        }
    ]


def test_times_are_answered_in_utc(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    session.execute(text("SET LOCAL timezone = 'Asia/Tokyo'"))  # until the test's rollback
    create_log_entry(session, created_at=datetime(2025, 12, 1, 8, 30, tzinfo=UTC))

    items = _list(client, signer, year=2025, month=12)["items"]

    assert [item["created_at"] for item in items] == ["2025-12-01T08:30:00Z"]  # type: ignore[attr-defined]


def test_newest_first_then_highest_id(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    at = _this_month()
    create_log_entry(session, detail="oldest", created_at=at)
    create_log_entry(session, detail="tie, first", created_at=at + timedelta(hours=1))
    create_log_entry(session, detail="tie, second", created_at=at + timedelta(hours=1))
    create_log_entry(session, detail="middle", created_at=at + timedelta(minutes=30))

    assert _details(_list(client, signer)) == ["tie, second", "tie, first", "middle", "oldest"]


def test_month_boundaries_are_utc(client: TestClient, signer: TestSigner, session: Session) -> None:
    create_log_entry(
        session,
        detail="Nov, last second",
        created_at=datetime(2025, 11, 30, 23, 59, 59, tzinfo=UTC),
    )
    create_log_entry(
        session, detail="Dec, first second", created_at=datetime(2025, 12, 1, tzinfo=UTC)
    )
    create_log_entry(
        session,
        detail="Dec, last second",
        created_at=datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC),
    )
    create_log_entry(session, detail="Jan", created_at=datetime(2026, 1, 1, tzinfo=UTC))

    november = _list(client, signer, year=2025, month=11)
    december = _list(client, signer, year=2025, month=12)

    assert _details(november) == ["Nov, last second"]
    assert _details(december) == ["Dec, last second", "Dec, first second"]
    assert december["total"] == 2


def test_month_boundaries_follow_tz(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    # December in Kathmandu (+05:45): from 18:15 UTC on November 30th.
    start = datetime(2025, 11, 30, 18, 15, tzinfo=UTC)
    create_log_entry(session, detail="Nov", created_at=start - timedelta(seconds=1))
    create_log_entry(session, detail="Dec", created_at=start)

    december = _list(client, signer, year=2025, month=12, tz="Asia/Kathmandu")

    assert _details(december) == ["Dec"]
    response = client.get("/logs/", params={"tz": "Nope/Zone"}, headers=signer.headers(1))
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["tz"]


def test_no_month_means_the_current_month(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    create_log_entry(session, detail="now")
    create_log_entry(session, detail="long ago", created_at=datetime(2001, 1, 1, tzinfo=UTC))

    assert _details(_list(client, signer)) == ["now"]


def test_filters(client: TestClient, signer: TestSigner, session: Session) -> None:
    at = _this_month()
    create_log_entry(session, detail="a", task_id=1, user_id=1, created_at=at)
    create_log_entry(
        session,
        detail="b",
        task_id=1,
        user_id=2,
        action_type=ActionType.TASK_UPDATED,
        created_at=at + timedelta(minutes=1),
    )
    create_log_entry(
        session,
        detail="c",
        task_id=2,
        user_id=2,
        action_type=ActionType.TASK_DELETED,
        created_at=at + timedelta(minutes=2),
    )

    assert _details(_list(client, signer, task_id=1, year=at.year, month=at.month)) == ["b", "a"]
    assert _details(_list(client, signer, user_id=2)) == ["c", "b"]
    assert _details(_list(client, signer, action_type="task_updated")) == ["b"]
    assert _details(_list(client, signer, action_type="task_deleted", user_id=2)) == ["c"]
    assert _details(_list(client, signer, user_id=1, action_type="task_deleted")) == []


def test_a_task_alone_gets_its_whole_history(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    create_log_entry(
        session, task_id=9, detail="created", created_at=datetime(2024, 3, 1, tzinfo=UTC)
    )
    create_log_entry(
        session, task_id=9, detail="updated", created_at=datetime(2025, 7, 1, tzinfo=UTC)
    )
    create_log_entry(session, task_id=9, detail="deleted", created_at=_this_month())
    create_log_entry(session, task_id=8, detail="other task", created_at=_this_month())

    history = _list(client, signer, task_id=9)

    assert _details(history) == ["deleted", "updated", "created"]
    assert history["total"] == 3


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"task_id": 9, "year": 2025, "month": 7}, ["updated"]),
        ({"task_id": 9, "user_id": 1}, ["updated"]),
        ({"task_id": 9, "action_type": "task_updated"}, ["updated"]),
    ],
    ids=["with-a-month", "with-user", "with-action-type"],
)
def test_a_month_or_other_filter_narrows_a_task_history(
    client: TestClient,
    signer: TestSigner,
    session: Session,
    params: dict[str, object],
    expected: list[str],
) -> None:
    """Only `year`/`month` bring the month filter back; other filters narrow all of history."""
    create_log_entry(
        session, task_id=9, user_id=2, detail="created", created_at=datetime(2024, 3, 1, tzinfo=UTC)
    )
    create_log_entry(
        session,
        task_id=9,
        user_id=1,
        action_type=ActionType.TASK_UPDATED,
        detail="updated",
        created_at=datetime(2025, 7, 1, tzinfo=UTC),
    )

    assert _details(_list(client, signer, **params)) == expected


def test_without_a_task_the_month_applies(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    create_log_entry(session, user_id=3, detail="old", created_at=datetime(2024, 3, 1, tzinfo=UTC))
    create_log_entry(session, user_id=3, detail="now")

    assert _details(_list(client, signer, user_id=3)) == ["now"]


def test_pagination_tells_the_next_page(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    for number in range(5):
        create_log_entry(
            session, detail=f"e{number}", created_at=_this_month() + timedelta(minutes=number)
        )

    first = _list(client, signer, page_size=2)
    third = _list(client, signer, page_size=2, page=3)

    assert (_details(first), first["total"], first["next_page"]) == (["e4", "e3"], 5, 2)
    assert (_details(third), third["next_page"]) == (["e0"], None)


def test_page_size_defaults_to_50_and_goes_up_to_200(
    client: TestClient, signer: TestSigner
) -> None:
    assert _list(client, signer)["page_size"] == 50
    assert _list(client, signer, page_size=200)["page_size"] == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"year": 2025}, "month"),
        ({"month": 5}, "year"),
        ({"task_id": 1, "year": 2025}, "month"),
        ({"year": 2025, "month": 13}, "month"),
        ({"year": 2025, "month": 0}, "month"),
        ({"year": 1969, "month": 1}, "year"),
        ({"year": "abc", "month": 1}, "year"),
        ({"action_type": "task_archived"}, "action_type"),
        ({"action_type": "task.created"}, "action_type"),
        ({"page_size": 201}, "page_size"),
        ({"page_size": 0}, "page_size"),
        ({"page": 0}, "page"),
        ({"task_id": 0}, "task_id"),
        ({"task_id": 2**63}, "task_id"),
        ({"task_id": "x"}, "task_id"),
        ({"user_id": -1}, "user_id"),
        ({"user_id": 2**63}, "user_id"),
    ],
)
def test_invalid_parameters_are_422_naming_them(
    client: TestClient, signer: TestSigner, params: dict[str, object], field: str
) -> None:
    params.setdefault("total", "true")  # the totals these tests check are counted on request
    response = client.get("/logs/", params=params, headers=signer.headers(1))  # type: ignore[arg-type]

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in body["message"]
    assert [(e["field"], e["location"]) for e in body["errors"]] == [(field, "query")]


def test_the_largest_id_is_accepted(client: TestClient, signer: TestSigner) -> None:
    assert _list(client, signer, task_id=2**63 - 1)["items"] == []


def test_any_signed_in_user_may_read(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    create_log_entry(session, user_id=1)

    response = client.get("/logs/", params={"total": "true"}, headers=signer.headers(99))

    assert response.status_code == 200
    assert response.json()["total"] == 1


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token"}],
    ids=["no-token", "bad-token"],
)
def test_not_signed_in_is_401(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get("/logs/", params={"month": 13}, headers=headers)

    assert response.status_code == 401
    assert response.json()["code"] in {"not_authenticated", "invalid_token"}
    assert response.headers["WWW-Authenticate"] == "Bearer"
