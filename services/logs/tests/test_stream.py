"""GET /logs/stream: the activity log live, resumable from a cursor with no gap and no duplicate,
against the real PostgreSQL (entries written by the consumer's own statement)."""

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import delete, text
from sqlalchemy.engine import Engine

from services.logs import service
from services.logs.config import LogsSettings
from services.logs.consumer import ENTRIES
from services.logs.hub import ActivityHub
from services.logs.live_metrics import CLOSED, STREAMS_OPEN
from services.logs.main import create_app
from services.logs.models import ActivityLog, processed_event
from services.logs.tests.factories import committed_entries, create_event
from shared.contracts.events import TaskEvent
from shared.core.db import Database
from shared.messaging.applying import EventApplier
from tests.sse import Event, events, served
from tests.tokens import TestSigner


@pytest.fixture
def applier(database: Database) -> EventApplier[TaskEvent]:
    """Writes entries as the logs consumer does: claim and insert in one statement."""
    return EventApplier(model=TaskEvent, database=database, processed=processed_event, rows=ENTRIES)


@pytest.fixture
def base_url(settings: LogsSettings, committed: None, signer: TestSigner) -> Iterator[str]:
    with served(create_app(settings, token_verifier=signer.verifier())) as url:
        yield url


@pytest.fixture
def http(base_url: str, signer: TestSigner) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, headers=signer.headers(7), timeout=30) as client:
        yield client


def write(applier: EventApplier[TaskEvent], count: int = 1, *, task_id: int = 1) -> None:
    for _ in range(count):
        applier.process_batch([create_event(task_id=task_id)])


def take(stream: Iterator[Event], count: int) -> list[Event]:
    return [next(stream) for _ in range(count)]


def test_each_new_entry_arrives_as_the_list_shows_it(
    http: httpx.Client, applier: EventApplier[TaskEvent]
) -> None:
    with http.stream("GET", "/logs/stream") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        write(applier, 2, task_id=5)
        received = take(events(response), 2)

    listed = http.get("/logs/", params={"task_id": 5}).json()["items"]
    assert [event.event for event in received] == ["activity", "activity"]
    assert [event.json() for event in received] == listed[::-1]  # the list is newest first
    assert received[0].id == f"{received[0].id.split('-')[0]}-{listed[1]['id']}"  # type: ignore[union-attr]


def first_cursor(http: httpx.Client, applier: EventApplier[TaskEvent]) -> str:
    """A cursor, as a client has it: the id of the first event a fresh stream got."""
    with http.stream("GET", "/logs/stream") as response:
        write(applier)
        cursor = next(events(response)).id
    assert cursor is not None
    return cursor


def test_a_client_resuming_with_last_event_id_gets_every_entry_once_in_commit_order(
    http: httpx.Client, applier: EventApplier[TaskEvent], engine: Engine
) -> None:
    cursor = first_cursor(http, applier)
    writer = threading.Thread(target=write, args=(applier, 60))
    writer.start()
    received: list[Event] = []
    try:
        while len(received) < 60:  # read a few, hang up, resume: again and again
            with http.stream("GET", "/logs/stream", headers={"Last-Event-ID": cursor}) as response:
                batch = take(events(response), min(7, 60 - len(received)))
            received += batch
            cursor = batch[-1].id or ""
    finally:
        writer.join()

    written = [entry.id for entry in committed_entries(engine)][1:]
    ids = [event.json()["id"] for event in received]
    assert ids == sorted(written)  # each once, in the order they committed


def waiting_for_the_log_lock(engine: Engine) -> bool:
    """Whether some session waits for the activity log's insert lock (an advisory lock)."""
    with engine.connect() as connection:
        waiting = connection.scalar(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        )
    return bool(waiting)


def test_two_consumers_at_once_commit_in_id_order_and_a_resuming_client_misses_nothing(
    http: httpx.Client,
    applier: EventApplier[TaskEvent],
    engine: Engine,
    settings: LogsSettings,
) -> None:
    cursor = first_cursor(http, applier)
    other = Database(settings.database_url, pool_size=1)  # a second consumer process's
    second = EventApplier(model=TaskEvent, database=other, processed=processed_event, rows=ENTRIES)
    try:
        with http.stream("GET", "/logs/stream") as live:
            # The first consumer's transaction inserts its entry and has not committed yet...
            first = engine.connect()
            first.execute(ENTRIES.table.insert().values(_entry(task_id=31)))
            # ...when the second one writes: it waits for the first to end before it draws an
            # id, so its entry's id is higher and it commits after.
            writer = threading.Thread(target=write, args=(second,), kwargs={"task_id": 32})
            writer.start()
            while not waiting_for_the_log_lock(engine):
                assert writer.is_alive(), "the second consumer did not wait for the first"
            # Meanwhile a client hangs up and reconnects: nothing is committed after its cursor.
            with http.stream("GET", "/logs/stream", headers={"Last-Event-ID": cursor}) as early:
                early.close()
            first.commit()
            first.close()
            writer.join()
            live_tasks = [event.json()["task_id"] for event in take(events(live), 2)]
        with http.stream("GET", "/logs/stream", headers={"Last-Event-ID": cursor}) as resumed:
            resumed_tasks = [event.json()["task_id"] for event in take(events(resumed), 2)]
    finally:
        other.dispose()

    assert live_tasks == [31, 32]
    assert resumed_tasks == [31, 32]
    entries = committed_entries(engine)
    assert [entry.task_id for entry in sorted(entries, key=lambda e: e.id)][-2:] == [31, 32]


def _entry(*, task_id: int) -> dict[str, object]:
    return service.entry_of(create_event(task_id=task_id))


@pytest.mark.parametrize(
    "cursor",
    ["not a cursor", "00000000-1", "ffffffff-99999999", "1' OR 1=1", ""],
)
def test_a_cursor_that_cannot_be_resumed_from_gets_a_reset(
    http: httpx.Client, applier: EventApplier[TaskEvent], cursor: str
) -> None:
    write(applier)
    with http.stream("GET", "/logs/stream", headers={"Last-Event-ID": cursor}) as response:
        received = list(events(response))  # the reset, then the stream ends

    assert response.status_code == 200
    assert [event.event for event in received] == ["reset"]
    assert received[0].json()["code"] == "cursor_unknown"


def test_a_cursor_whose_entry_was_pruned_gets_a_reset(
    http: httpx.Client, applier: EventApplier[TaskEvent], engine: Engine
) -> None:
    cursor = first_cursor(http, applier)
    write(applier)
    with engine.begin() as connection:  # retention removed the entry the cursor names
        connection.execute(delete(ActivityLog).where(ActivityLog.id == int(cursor.split("-")[1])))

    with http.stream("GET", "/logs/stream", params={"after": cursor}) as response:
        received = list(events(response))

    assert [event.event for event in received] == ["reset"]


def test_the_task_id_filter_narrows_the_stream_and_its_resume(
    http: httpx.Client, applier: EventApplier[TaskEvent]
) -> None:
    cursor = first_cursor(http, applier)
    for task_id in (8, 9, 8, 9, 8):
        write(applier, task_id=task_id)
    with http.stream(
        "GET", "/logs/stream", params={"task_id": 8}, headers={"Last-Event-ID": cursor}
    ) as response:
        stream = events(response)
        backlog = take(stream, 3)
        write(applier, task_id=9)
        write(applier, task_id=8)
        live = next(stream)

    assert [event.json()["task_id"] for event in [*backlog, live]] == [8, 8, 8, 8]


def test_a_stream_ends_when_its_token_expires(
    base_url: str, signer: TestSigner, applier: EventApplier[TaskEvent]
) -> None:
    token = signer.token(7, ttl=timedelta(seconds=2))
    headers = {"Authorization": f"Bearer {token}"}
    with (
        httpx.Client(base_url=base_url, headers=headers, timeout=30) as client,
        client.stream("GET", "/logs/stream") as response,
    ):
        write(applier)
        received = list(events(response))  # returns once the server ends the stream

    assert [event.event for event in received] == ["activity"]
    again = httpx.get(f"{base_url}/logs/stream", headers=headers)
    assert again.status_code == 401
    assert again.json()["code"] == "token_expired"


def test_a_stream_without_a_token_is_refused(base_url: str) -> None:
    response = httpx.get(f"{base_url}/logs/stream")

    assert response.status_code == 401


def test_a_stream_that_falls_too_far_behind_is_closed_and_its_client_resumes_without_loss(
    settings: LogsSettings, committed: None, signer: TestSigner, applier: EventApplier[TaskEvent]
) -> None:
    app = create_app(settings, token_verifier=signer.verifier())
    app.state.activity_hub = ActivityHub(app.state.database, settings.database_url, buffer_limit=3)
    closed = CLOSED.labels("slow")._value.get()
    with (
        served(app) as url,
        httpx.Client(base_url=url, headers=signer.headers(7), timeout=30) as http,
    ):
        with http.stream("GET", "/logs/stream") as response:
            stream = events(response)
            write(applier)
            cursor = next(stream).id
            # Ten entries at once: more than the stream may hold for its client.
            applier.process_batch([create_event(task_id=n) for n in range(10, 20)])
            behind = list(stream)  # ends: closed for slowness
        with http.stream("GET", "/logs/stream", headers={"Last-Event-ID": cursor or ""}) as again:
            resumed = take(events(again), 10)

    assert behind == []
    assert CLOSED.labels("slow")._value.get() == closed + 1
    assert [event.json()["task_id"] for event in resumed] == list(range(10, 20))


def test_a_client_that_goes_away_leaves_no_stream_behind(
    settings: LogsSettings, committed: None, signer: TestSigner, applier: EventApplier[TaskEvent]
) -> None:
    app = create_app(settings, token_verifier=signer.verifier())
    hub: ActivityHub = app.state.activity_hub
    opened = STREAMS_OPEN._value.get()
    with (
        served(app) as url,
        httpx.Client(base_url=url, headers=signer.headers(7), timeout=30) as http,
    ):
        for _ in range(3):
            with http.stream("GET", "/logs/stream") as response:
                stream = events(response)  # kept: dropping it closes the connection
                write(applier)
                next(stream)
                assert hub.streams == 1
        # Idle streams too: nothing is written to them, and they still end with their clients.
        for _ in range(3):
            with http.stream("GET", "/logs/stream") as response:
                assert response.status_code == 200
        deadline = time.monotonic() + 10
        while (hub.streams, STREAMS_OPEN._value.get()) != (0, opened):
            assert time.monotonic() < deadline, (hub.streams, STREAMS_OPEN._value.get(), opened)
            time.sleep(0.02)
