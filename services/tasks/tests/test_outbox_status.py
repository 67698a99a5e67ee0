"""`manage outbox-status`: how many task events wait for the relay, and for how long."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, update
from sqlalchemy.orm import Session

from services.tasks import manage
from services.tasks.models import OUTBOX
from shared.messaging.maintenance import OutboxStatus, outbox_status
from shared.messaging.outbox import add_event
from tests.events import create_snapshot, create_task_event


def store_event(session: Session, *, hours_ago: float, published: bool = False) -> None:
    """A task event in the outbox, written `hours_ago` (by the database's clock)."""
    event = create_task_event(task=create_snapshot())
    add_event(session, OUTBOX, event=event, entity_id=event.task_id)
    session.execute(
        update(OUTBOX.table)
        .where(OUTBOX.table.c.event_id == event.event_id)
        .values(
            created_at=func.now() - timedelta(hours=hours_ago),
            published_at=func.now() if published else None,
        )
    )


def test_counts_the_unpublished_events_and_ages_the_oldest(
    session: Session, tasks_schema: None
) -> None:
    empty = outbox_status(session, OUTBOX)
    store_event(session, hours_ago=3, published=True)
    store_event(session, hours_ago=2)
    store_event(session, hours_ago=0)

    assert empty == OutboxStatus(table="tasks.outbox", unpublished=0, oldest_age=None)
    assert outbox_status(session, OUTBOX) == OutboxStatus(
        table="tasks.outbox", unpublished=2, oldest_age=timedelta(hours=2)
    )


def test_the_command_prints_the_backlog(
    committed: Session,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    manage.main(["outbox-status"])
    store_event(committed, hours_ago=1.5)
    store_event(committed, hours_ago=0.5, published=True)
    committed.commit()

    manage.main(["outbox-status"])

    nothing, backlog = capsys.readouterr().out.splitlines()
    assert nothing == "tasks.outbox: 0 unpublished"
    assert re.fullmatch(r"tasks\.outbox: 1 unpublished, the oldest for 54\d\d\.\d s", backlog)
