"""Keyset pages of the task list: `next_cursor` walks the whole month, in every sort order."""

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from services.tasks.tests.factories import create_task
from shared.web.pagination import MAX_OFFSET
from tests.tokens import TestSigner

MONTH = {"year": 2025, "month": 6}
START = datetime(2025, 6, 1, tzinfo=UTC)


def _get(client: TestClient, signer: TestSigner, **params: object) -> dict[str, object]:
    query = {**MONTH, **params}
    response = client.get("/tasks/", params=query, headers=signer.headers(1))  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def _walk(client: TestClient, signer: TestSigner, **params: object) -> list[str]:
    """Every title, page after page through `next_cursor`."""
    titles: list[str] = []
    page = _get(client, signer, page_size=2, **params)
    while True:
        titles += [item["title"] for item in page["items"]]  # type: ignore[attr-defined]
        if page["next_cursor"] is None:
            return titles
        page = _get(client, signer, page_size=2, cursor=page["next_cursor"], **params)


@pytest.fixture
def tasks(session: Session) -> None:
    """Five tasks of June 2025: two created in the same second, two without a due date."""
    for number, minutes, due_days in [(0, 0, 3), (1, 5, None), (2, 5, 1), (3, 9, None), (4, 20, 2)]:
        create_task(
            session,
            title=f"t{number}",
            created_at=START + timedelta(minutes=minutes),
            due_date=None if due_days is None else START + timedelta(days=due_days),
        )
    create_task(session, title="july", created_at=datetime(2025, 7, 1, tzinfo=UTC))


@pytest.mark.usefixtures("tasks")
@pytest.mark.parametrize(
    ("sort", "order", "expected"),
    [
        ("created_at", "desc", ["t4", "t3", "t2", "t1", "t0"]),
        ("created_at", "asc", ["t0", "t1", "t2", "t3", "t4"]),
        ("due_date", "asc", ["t2", "t4", "t0", "t1", "t3"]),  # no due date last
        ("due_date", "desc", ["t0", "t4", "t2", "t3", "t1"]),  # no due date last, newest id first
    ],
)
def test_the_cursor_walks_every_task_of_the_month_once_in_order(
    client: TestClient, signer: TestSigner, sort: str, order: str, expected: list[str]
) -> None:
    assert _walk(client, signer, sort=sort, order=order) == expected


@pytest.mark.usefixtures("tasks")
def test_a_page_counts_only_when_asked(client: TestClient, signer: TestSigner) -> None:
    plain = _get(client, signer, page_size=2)
    counted = _get(client, signer, page_size=2, total="true")

    assert plain["total"] is None
    assert counted["total"] == 5
    assert (plain["next_page"], plain["page"]) == (2, 1)


@pytest.mark.usefixtures("tasks")
def test_a_cursor_page_continues_from_the_cursor_not_a_page_number(
    client: TestClient, signer: TestSigner
) -> None:
    first = _get(client, signer, page_size=2)
    second = _get(client, signer, page_size=2, cursor=first["next_cursor"])

    assert [item["title"] for item in second["items"]] == ["t2", "t1"]  # type: ignore[attr-defined]
    assert (second["page"], second["next_page"]) == (None, None)
    assert second["next_cursor"] is not None


@pytest.mark.usefixtures("tasks")
@pytest.mark.parametrize(
    "change",
    [{"sort": "due_date"}, {"order": "asc"}, {"status": "done"}, {"month": 7}],
    ids=["other-sort", "other-order", "other-filter", "other-month"],
)
def test_a_cursor_of_another_list_is_422_not_a_wrong_page(
    client: TestClient, signer: TestSigner, change: dict[str, object]
) -> None:
    cursor = _get(client, signer, page_size=2)["next_cursor"]

    response = client.get(
        "/tasks/",
        params={**MONTH, "page_size": 2, "cursor": cursor, **change},  # type: ignore[dict-item]
        headers=signer.headers(1),
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "cursor"


@pytest.mark.parametrize("cursor", ["x", "eyJzIjoxfQ", "!!!", "e30"])
def test_a_forged_cursor_is_422_naming_it(
    client: TestClient, signer: TestSigner, cursor: str
) -> None:
    response = client.get("/tasks/", params={"cursor": cursor}, headers=signer.headers(1))

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "cursor"


def test_a_page_number_past_the_offset_limit_is_422_pointing_to_cursors(
    client: TestClient, signer: TestSigner
) -> None:
    deepest = MAX_OFFSET // 50 + 1
    ok = client.get("/tasks/", params={"page": deepest}, headers=signer.headers(1))
    deeper = client.get("/tasks/", params={"page": deepest + 1}, headers=signer.headers(1))

    assert ok.status_code == 200
    assert deeper.status_code == 422
    assert deeper.json()["errors"][0]["field"] == "page"
    assert "next_cursor" in deeper.json()["errors"][0]["message"]
