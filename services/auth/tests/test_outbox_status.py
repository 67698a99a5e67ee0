"""`manage outbox-status` of auth: the user events waiting for its relay."""

import pytest
from sqlalchemy.orm import Session

from services.auth import manage
from services.auth.models import OUTBOX
from shared.messaging.outbox import add_event
from tests.events import create_user_event


def test_the_command_counts_the_user_events_waiting_for_the_relay(
    committed: Session,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for user_id in (1, 2):
        add_event(committed, OUTBOX, event=create_user_event(user_id=user_id), entity_id=user_id)
    committed.commit()
    monkeypatch.setenv("DATABASE_URL", database_url)

    manage.main(["outbox-status"])

    assert capsys.readouterr().out.startswith("auth.outbox: 2 unpublished, the oldest for ")
