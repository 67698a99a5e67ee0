"""A consumer process for the tests to kill mid-batch (`test_consumer_recovery.py`).

    python -m shared.tests.killable_consumer DATABASE_URL CONFIG_JSON MODE MARKER

MODE `before-commit`: each batch is applied, then the process stops before the commit;
`after-commit`: it stops after the commit, before the acks. Stopped means: it creates MARKER
and sleeps, for the test to kill it with SIGKILL.
"""

import asyncio
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.orm import Session

from shared.contracts.events import TaskEvent
from shared.core.db import Database
from shared.messaging.applying import Outcome
from shared.messaging.consumer import EventConsumer
from shared.messaging.queues import ConsumerConfig
from shared.tests.test_consumer import processed, record


def stop_here(marker: Path) -> None:
    """Tell the test where the process is, and wait for its SIGKILL."""
    marker.touch()
    time.sleep(600)


def main() -> None:
    """Consume until killed."""
    database_url, config_json, mode, marker = sys.argv[1:]
    config = ConsumerConfig(**json.loads(config_json))
    database = Database(database_url, pool_size=2)

    def record_all(session: Session, events: Sequence[TaskEvent]) -> None:
        for event in events:
            record(session, event)
        if mode == "before-commit":
            stop_here(Path(marker))

    consumer = EventConsumer(
        config,
        model=TaskEvent,
        database=database,
        processed=processed,
        handler=record,
        batch_handler=record_all,
    )
    commit_then_stop = consumer.process_batch

    def process_batch(events: Sequence[TaskEvent]) -> list[Outcome]:
        outcomes = commit_then_stop(events)
        if mode == "after-commit":
            stop_here(Path(marker))
        return outcomes

    consumer.process_batch = process_batch  # type: ignore[method-assign]
    asyncio.run(consumer.run(asyncio.Event()))


if __name__ == "__main__":
    main()
