"""The logs consumer: its entries (claimed and written in one statement), and the whole path
through the real RabbitMQ."""

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from services.logs import service
from services.logs.config import LogsSettings
from services.logs.consumer import ENTRIES
from services.logs.models import processed_event
from services.logs.tests.factories import committed_entries, create_event
from shared.contracts.events import TaskEvent, TaskEventType
from shared.core.db import Database
from shared.messaging.applying import Outcome
from shared.messaging.consumer import EventConsumer
from shared.messaging.queues import ConsumerConfig
from tests.broker import broker, consumer_config, dead_letter, eventually, publish, running
from tests.events import event_body


@pytest.fixture
def config(settings: LogsSettings) -> ConsumerConfig:
    return consumer_config("logs", amqp_url=settings.amqp_url, max_attempts=2)


@pytest.fixture
def consumer(config: ConsumerConfig, database: Database) -> EventConsumer[TaskEvent]:
    return EventConsumer(
        config,
        model=TaskEvent,
        database=database,
        processed=processed_event,
        rows=ENTRIES,  # as the logs consumer runs
    )


@pytest.mark.parametrize(
    ("event_type", "changes", "action_type", "detail"),
    [
        (TaskEventType.CREATED, {}, "task_created", 'Task "Write the report" created'),
        (
            TaskEventType.UPDATED,
            {"status": ("todo", "in_progress"), "assignee_id": (None, 5)},
            "task_updated",
            "Status changed to in_progress; Assignee set to user 5",
        ),
        (TaskEventType.DELETED, {}, "task_deleted", 'Task "Write the report" deleted'),
    ],
    ids=["created", "updated", "deleted"],
)
def test_each_event_becomes_one_entry(
    consumer: EventConsumer[TaskEvent],
    engine: Engine,
    event_type: TaskEventType,
    changes: dict[str, tuple[object, object]],
    action_type: str,
    detail: str,
) -> None:
    occurred_at = datetime(2025, 12, 3, 10, 15, 0, 123456, tzinfo=UTC)
    event = create_event(
        event_type=event_type, task_id=42, actor_id=7, occurred_at=occurred_at, changes=changes
    )

    assert consumer.process(event_body(event)) is Outcome.APPLIED

    (entry,) = committed_entries(engine)
    assert (entry.task_id, entry.user_id, entry.action_type, entry.detail) == (
        42,
        7,
        action_type,
        detail,
    )
    assert entry.event_id == event.event_id
    assert entry.created_at == occurred_at


def test_a_duplicated_event_adds_nothing(
    consumer: EventConsumer[TaskEvent], engine: Engine
) -> None:
    body = event_body(create_event())

    assert consumer.process(body) is Outcome.APPLIED
    assert consumer.process(body) is Outcome.DUPLICATE
    assert len(committed_entries(engine)) == 1


def test_an_event_whose_claim_is_gone_keeps_one_entry(
    consumer: EventConsumer[TaskEvent], engine: Engine
) -> None:
    """E.g. its `processed_event` row pruned before a very late redelivery."""
    event = create_event()
    body = event_body(event)
    assert consumer.process(body) is Outcome.APPLIED
    with engine.begin() as connection:
        connection.execute(delete(processed_event))

    assert consumer.process(body) is Outcome.APPLIED  # claimed anew, and no second entry
    assert [entry.event_id for entry in committed_entries(engine)] == [event.event_id]


def test_a_batch_claims_and_adds_its_entries_in_order_once_each(
    consumer: EventConsumer[TaskEvent], engine: Engine
) -> None:
    """One statement for the batch: a copy inside it, or an event applied before, adds nothing."""
    start = datetime.now(UTC)
    earlier, *events = [
        create_event(task_id=task_id, occurred_at=start) for task_id in (1, 2, 3, 4)
    ]
    assert consumer.process_batch([earlier]) == [Outcome.APPLIED]

    outcomes = consumer.process_batch([events[0], earlier, events[1], events[0], events[2]])

    assert outcomes == [
        Outcome.APPLIED,
        Outcome.DUPLICATE,
        Outcome.APPLIED,
        Outcome.DUPLICATE,
        Outcome.APPLIED,
    ]
    entries = committed_entries(engine)  # the same time: in the order they were applied
    assert [entry.task_id for entry in entries] == [1, 2, 3, 4]
    with engine.connect() as connection:
        claimed = connection.scalar(select(func.count()).select_from(processed_event))
    assert claimed == 4


def test_a_batch_that_fails_claims_nothing(
    config: ConsumerConfig, database: Database, engine: Engine
) -> None:
    """The claim and the entries are one statement: an entry refused takes its claim back."""
    good, bad = create_event(task_id=1), create_event(task_id=2)

    def entry_of(event: TaskEvent) -> dict[str, object]:
        entry = service.entry_of(event)
        return {**entry, "action_type": "task_exploded"} if event is bad else entry  # no CHECK

    consumer = EventConsumer(
        config,
        model=TaskEvent,
        database=database,
        processed=processed_event,
        rows=dataclasses.replace(ENTRIES, row=entry_of),
    )

    with pytest.raises(IntegrityError):
        consumer.process_batch([good, bad])

    assert committed_entries(engine) == []
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(processed_event)) == 0


def test_an_event_delivered_late_takes_its_place_in_time(
    consumer: EventConsumer[TaskEvent], engine: Engine
) -> None:
    """A log has no state to roll back: an older event is still recorded, at its own time."""
    now = datetime.now(UTC)
    newer = create_event(event_type=TaskEventType.DELETED, version=3, occurred_at=now)
    older = create_event(
        event_type=TaskEventType.UPDATED,
        version=2,
        occurred_at=now - timedelta(minutes=1),
        changes={"title": ("A", "B")},
    )

    consumer.process(event_body(newer))
    consumer.process(event_body(older))

    assert [entry.action_type for entry in committed_entries(engine)] == [
        "task_updated",
        "task_deleted",
    ]


def test_events_through_the_broker_become_entries_and_poison_is_dead_lettered(
    consumer: EventConsumer[TaskEvent], config: ConsumerConfig, engine: Engine
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=5)
    events = [
        create_event(event_type=TaskEventType.CREATED, task_id=5, occurred_at=start),
        create_event(
            event_type=TaskEventType.UPDATED,
            task_id=5,
            actor_id=2,
            version=2,
            occurred_at=start + timedelta(minutes=1),
            changes={"title": ("Write the report", "Write the summary")},
        ),
        create_event(
            event_type=TaskEventType.DELETED,
            task_id=5,
            version=3,
            occurred_at=start + timedelta(minutes=2),
        ),
    ]
    poison = b'{"event_id": "not json'

    async def scenario() -> None:
        async with broker(config) as channel:
            await consumer.declare(channel)  # the queue exists before anything is published
            async with running(consumer):
                await publish(channel, config, event_body(events[0]), routing_key="task.created")
                await publish(channel, config, poison, routing_key="task.updated")
                await publish(channel, config, event_body(events[1]), routing_key="task.updated")
                await publish(channel, config, event_body(events[2]), routing_key="task.deleted")
                await eventually(lambda: len(committed_entries(engine)) == 3)
                dead = await dead_letter(channel, config)
                assert dead.body == poison
                await dead.ack()

    asyncio.run(scenario())

    entries = committed_entries(engine)
    assert [entry.event_id for entry in entries] == [event.event_id for event in events]
    assert [(entry.action_type, entry.user_id) for entry in entries] == [
        ("task_created", 1),
        ("task_updated", 2),
        ("task_deleted", 1),
    ]
    assert entries[1].detail == 'Title changed from "Write the report" to "Write the summary"'
