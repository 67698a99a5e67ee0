from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.tasks.models import Task
from services.tasks.schemas import TaskRead
from services.tasks.tests.factories import create_task
from shared.contracts.events import TaskStatus
from shared.web.pagination import Page
from tests.tokens import TestSigner


def _list(client: TestClient, signer: TestSigner, **params: object) -> dict[str, object]:
    params.setdefault("total", "true")  # the totals these tests check are counted on request
    response = client.get("/tasks/", params=params, headers=signer.headers(1))  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def _titles(page: dict[str, object]) -> list[str]:
    items = page["items"]
    assert isinstance(items, list)
    return [item["title"] for item in items]


def test_month_boundaries_are_utc(client: TestClient, signer: TestSigner, session: Session) -> None:
    create_task(
        session,
        title="last second of November",
        created_at=datetime(2025, 11, 30, 23, 59, 59, tzinfo=UTC),
    )
    create_task(
        session,
        title="first second of December",
        created_at=datetime(2025, 12, 1, 0, 0, 0, tzinfo=UTC),
    )
    create_task(
        session,
        title="last second of December",
        created_at=datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    )
    create_task(session, title="new year", created_at=datetime(2026, 1, 1, tzinfo=UTC))

    november = _list(client, signer, year=2025, month=11)
    december = _list(client, signer, year=2025, month=12, order="asc")

    assert _titles(november) == ["last second of November"]
    assert _titles(december) == ["first second of December", "last second of December"]
    assert december["total"] == 2


@pytest.mark.parametrize(
    ("tz", "first", "last"),
    [
        # December in Kathmandu: from 18:15 UTC on November 30th to 18:15 UTC on December 31st.
        ("Asia/Kathmandu", datetime(2025, 11, 30, 18, 15, tzinfo=UTC), timedelta(hours=-5.75)),
        # December in St John's (-03:30): from 03:30 UTC on December 1st.
        ("America/St_Johns", datetime(2025, 12, 1, 3, 30, tzinfo=UTC), timedelta(hours=3.5)),
    ],
)
def test_month_boundaries_follow_tz(
    client: TestClient,
    signer: TestSigner,
    session: Session,
    tz: str,
    first: datetime,
    last: timedelta,
) -> None:
    second = timedelta(seconds=1)
    create_task(session, title="before", created_at=first - second)
    create_task(session, title="first", created_at=first)
    create_task(session, title="last", created_at=datetime(2026, 1, 1, tzinfo=UTC) + last - second)
    create_task(session, title="after", created_at=datetime(2026, 1, 1, tzinfo=UTC) + last)

    december = _list(client, signer, year=2025, month=12, tz=tz, order="asc")

    assert _titles(december) == ["first", "last"]


def test_an_unknown_zone_is_a_422_naming_tz(client: TestClient, signer: TestSigner) -> None:
    response = client.get("/tasks/", params={"tz": "Mars/Olympus"}, headers=signer.headers(1))

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["tz"]


def test_no_month_means_the_current_month(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    create_task(session, title="now")
    create_task(session, title="long ago", created_at=datetime(2001, 1, 1, tzinfo=UTC))

    assert _titles(_list(client, signer)) == ["now"]


def test_filters(client: TestClient, signer: TestSigner, session: Session) -> None:
    create_task(session, title="a", status=TaskStatus.DONE, creator_id=1, assignee_id=2)
    create_task(session, title="b", status=TaskStatus.TODO, creator_id=1, assignee_id=3)
    create_task(session, title="c", status=TaskStatus.DONE, creator_id=5, assignee_id=3)

    assert sorted(_titles(_list(client, signer, status="done"))) == ["a", "c"]
    assert sorted(_titles(_list(client, signer, assignee_id=3))) == ["b", "c"]
    assert sorted(_titles(_list(client, signer, creator_id=1))) == ["a", "b"]
    assert _titles(_list(client, signer, status="done", assignee_id=3)) == ["c"]


def test_sorting(client: TestClient, signer: TestSigner, session: Session) -> None:
    now = datetime.now(UTC).replace(day=1, hour=12)
    create_task(session, title="old, due late", created_at=now, due_date=now + timedelta(days=9))
    create_task(
        session,
        title="new, due soon",
        created_at=now + timedelta(hours=1),
        due_date=now + timedelta(days=1),
    )
    create_task(session, title="newest, no due date", created_at=now + timedelta(hours=2))

    assert _titles(_list(client, signer)) == [
        "newest, no due date",
        "new, due soon",
        "old, due late",
    ]
    assert _titles(_list(client, signer, sort="created_at", order="asc")) == [
        "old, due late",
        "new, due soon",
        "newest, no due date",
    ]
    assert _titles(_list(client, signer, sort="due_date", order="asc")) == [
        "new, due soon",
        "old, due late",
        "newest, no due date",
    ]
    assert _titles(_list(client, signer, sort="due_date", order="desc"))[:2] == [
        "old, due late",
        "new, due soon",
    ]


def test_pagination_tells_the_next_page(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    for number in range(5):
        create_task(
            session,
            title=f"t{number}",
            created_at=datetime.now(UTC).replace(day=1) + timedelta(minutes=number),
        )

    first = _list(client, signer, page_size=2, order="asc")
    third = _list(client, signer, page_size=2, page=3, order="asc")

    assert (_titles(first), first["total"], first["next_page"]) == (["t0", "t1"], 5, 2)
    assert (_titles(third), third["next_page"]) == (["t4"], None)


def test_default_page_size_is_50(client: TestClient, signer: TestSigner) -> None:
    assert _list(client, signer)["page_size"] == 50


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"year": 2025}, "month"),
        ({"month": 5}, "year"),
        ({"year": 2025, "month": 13}, "month"),
        ({"year": 2025, "month": 0}, "month"),
        ({"year": 1969, "month": 1}, "year"),
        ({"year": 9999, "month": 12}, "year"),
        ({"year": "abc", "month": 1}, "year"),
        ({"status": "finished"}, "status"),
        ({"page_size": 201}, "page_size"),
        ({"page_size": 0}, "page_size"),
        ({"page": 0}, "page"),
        ({"sort": "title"}, "sort"),
        ({"order": "up"}, "order"),
        ({"assignee_id": -1}, "assignee_id"),
        ({"creator_id": 2**63}, "creator_id"),
    ],
)
def test_invalid_parameters_are_422_naming_them(
    client: TestClient, signer: TestSigner, params: dict[str, object], field: str
) -> None:
    params.setdefault("total", "true")  # the totals these tests check are counted on request
    response = client.get("/tasks/", params=params, headers=signer.headers(1))  # type: ignore[arg-type]

    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [(e["field"], e["location"]) for e in errors] == [(field, "query")]


def test_the_last_month_there_is_answers(client: TestClient, signer: TestSigner) -> None:
    assert _list(client, signer, year=9998, month=12)["total"] == 0


def test_a_page_built_by_postgresql_is_the_json_pydantic_writes(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    """The list's JSON comes from PostgreSQL; byte for byte, it is what `Page[TaskRead]` makes
    of the same rows: escapes, times in UTC with and without microseconds, nulls, key order."""
    december = datetime(2025, 12, 1, tzinfo=UTC)
    titles = ['Quote " and \\ back', "tab\tnew\nline \x01 \x1f", "naïve 日本 🎉 </script>", "plain"]
    for n, title in enumerate(titles):
        create_task(
            session,
            title=title,
            description=None if n % 2 else "two\r\nlines \u2028",
            status=TaskStatus.DONE if n == 2 else TaskStatus.TODO,
            assignee_id=None if n == 1 else 7,
            due_date=[None, datetime(1, 1, 2, tzinfo=UTC), december.replace(year=9999)][n % 3],
            created_at=december + timedelta(days=n, microseconds=[0, 1, 120000, 999999][n]),
        )
    month = {"year": 2025, "month": 12}
    first = client.get("/tasks/", params={**month, "page_size": 3}, headers=signer.headers(1))
    cursor = first.json()["next_cursor"]
    second = client.get("/tasks/", params={**month, "cursor": cursor}, headers=signer.headers(1))

    assert first.headers["content-type"] == "application/json"
    for response, count in ((first, 3), (second, 1)):
        assert response.status_code == 200, response.text
        page = Page[TaskRead].model_validate_json(response.content)
        assert len(page.items) == count
        assert response.content == TypeAdapter(Page[TaskRead]).dump_json(page)
    items = first.json()["items"] + second.json()["items"]
    assert [item["title"] for item in items] == titles[::-1]
    stored = [TaskRead.model_validate(task).model_dump(mode="json") for task in _stored(session)]
    assert items == stored[::-1]
    assert items[0]["created_at"] == "2025-12-04T00:00:00.999999Z"
    assert items[-1]["created_at"] == "2025-12-01T00:00:00Z"
    assert items[-2]["due_date"] == "0001-01-02T00:00:00Z"


def _stored(session: Session) -> list[Task]:
    return list(session.scalars(select(Task).order_by(Task.id)))
