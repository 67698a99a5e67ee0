"""`GET /kpi/flow/ageing`: the tasks in progress for longer than the window's p85 cycle time."""

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from services.kpi import flow_service
from services.kpi.flow_schemas import FlowWindow
from services.kpi.tests.factories import apply_events, create_event, create_next_event
from shared.contracts.events import TaskStatus
from tests.tokens import TestSigner

# In progress since the calendar's second day: its cycle time's histogram bin stands for a time
# longer than the calendar has had until October 2028 (bins are 2% wide).
ANCIENT = datetime(1, 1, 2, tzinfo=UTC)
DONE_AT = datetime(2025, 3, 10, tzinfo=UTC)


def test_a_cycle_time_as_long_as_the_calendar_is_a_threshold_no_task_reaches(
    client: TestClient, signer: TestSigner, session: Session
) -> None:
    imported = create_event(task_id=1, status=TaskStatus.IN_PROGRESS, created_at=ANCIENT)
    in_progress = create_event(task_id=2, status=TaskStatus.IN_PROGRESS, created_at=ANCIENT)
    apply_events(
        session,
        imported,
        create_next_event(after=imported, at=DONE_AT, status=TaskStatus.DONE),
        in_progress,
    )

    response = client.get(
        "/kpi/flow/ageing",
        params={"from": "2025-03-01", "to": "2025-03-31"},
        headers=signer.headers(1),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    cycle = (DONE_AT - ANCIENT).total_seconds()
    assert abs(body["threshold_seconds"] - cycle) <= 0.01 * cycle
    assert body["items"] == []  # in progress as long, but not longer than the threshold
    window = FlowWindow(first=DONE_AT.date(), last=DONE_AT.date())
    assert flow_service.ageing(session, window=window, now=DONE_AT).items == []
