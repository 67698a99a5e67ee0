"""A task write followed through the outbox and the broker into both consumers.

Real PostgreSQL and RabbitMQ, the real relay and the logs and KPI consumers; auth's users API
is faked (tasks asks it about the assignee). With tracing on (into memory, `spans`), the
request, its publish and both applies are one trace; with it off, only the request ID travels.
"""

import asyncio
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_span_id, format_trace_id
from sqlalchemy import text
from sqlalchemy.engine import Engine

from services.tasks.main import create_app as create_tasks_app
from services.tasks.relay import relay_config as tasks_relay
from services.tasks.users import UserDirectory
from shared.contracts.events import TaskEvent
from shared.core.db import Database
from shared.messaging.relay import OutboxRelay
from tests.auth_users import AUTH_URL, FakeAuthUsers
from tests.broker import bound_queue, eventually, receive, running
from tests.integration.conftest import System
from tests.json_logs import JsonLogs, json_logs
from tests.tokens import TestSigner

DEADLINE = 20.0  # seconds for an event to travel outbox -> relay -> broker -> consumer
ASSIGNEE = 7  # not in tasks' directory yet: tasks asks (the fake) auth about it


def task_queues(world: System) -> list[str]:
    """The queues of the two consumers of task events: logs, then KPI."""
    return [
        s.queue for s in world.logs_subscriptions + world.kpi_subscriptions if s.model is TaskEvent
    ]


def tasks_app(world: System, auth: FakeAuthUsers, signer: TestSigner) -> FastAPI:
    return create_tasks_app(
        world.tasks,
        users=UserDirectory(AUTH_URL, client=auth.client()),
        token_verifier=signer.verifier(),
    )


def post_task(app: FastAPI, signer: TestSigner, *, request_id: str) -> int:
    """`POST /tasks/` as a client behind the gateway would; the new task's id."""
    with TestClient(app) as client:
        response = client.post(
            "/tasks/",
            json={"title": "Follow me", "assignee_id": ASSIGNEE},
            headers={**signer.headers(1), "X-Request-ID": request_id},
        )
    assert response.status_code == 201, response.text
    task_id: int = response.json()["id"]
    return task_id


def applied_by_both(engine: Engine, task_id: int) -> bool:
    with engine.connect() as connection:
        logged = connection.scalar(
            text("SELECT count(*) FROM logs.activity_log WHERE task_id = :id"), {"id": task_id}
        )
        kept = connection.scalar(
            text("SELECT count(*) FROM kpi.task_state WHERE task_id = :id"), {"id": task_id}
        )
    return (logged, kept) == (1, 1)


def logged_by_both(logs: JsonLogs, queues: list[str]) -> bool:
    """Each consumer has logged its batch (it logs after the commit and the ack)."""
    return {line["queue"] for line in logs.lines("events_consumed")} >= set(queues)


def consumed(logs: JsonLogs, queue: str) -> dict[str, Any]:
    """The consumer's line for its batch (of the one event) from `queue`."""
    [line] = [line for line in logs.lines("events_consumed") if line["queue"] == queue]
    return line


def ancestors(span: ReadableSpan, spans: Sequence[ReadableSpan]) -> list[str]:
    """The names of the spans above `span`, nearest first."""
    by_id = {s.context.span_id: s for s in spans}
    names = []
    parent = span.parent
    while parent is not None and parent.span_id in by_id:
        above = by_id[parent.span_id]
        names.append(above.name)
        parent = above.parent
    return names


def test_a_task_write_its_publish_and_both_applies_are_one_trace(
    committed_system: System,
    engine: Engine,
    database_url: str,
    signer: TestSigner,
    spans: InMemorySpanExporter,
) -> None:
    world = committed_system
    auth = FakeAuthUsers()
    app = tasks_app(world, auth, signer)
    database = Database(database_url, pool_size=4)
    queues = task_queues(world)

    def both_applies_traced() -> bool:
        return sum(s.kind is SpanKind.CONSUMER for s in spans.get_finished_spans()) == 2

    async def scenario() -> JsonLogs:
        async with (
            world.broker(),
            running(
                OutboxRelay(tasks_relay(world.tasks)),
                *world.consumers(database),
                *world.logs_consumers(database),
            ),
        ):
            with json_logs() as logs:
                post_task(app, signer, request_id="traced-request")
                await eventually(both_applies_traced, within=DEADLINE)
                await eventually(lambda: logged_by_both(logs, queues), within=DEADLINE)
        return logs

    logs = asyncio.run(scenario())
    database.dispose()

    finished = spans.get_finished_spans()
    [server] = [s for s in finished if s.kind is SpanKind.SERVER]
    [publish] = [s for s in finished if s.kind is SpanKind.PRODUCER]
    applies = {s.name: s for s in finished if s.kind is SpanKind.CONSUMER}
    assert server.name == "POST /tasks/"
    assert publish.name == f"publish {world.tasks.events_exchange}"
    assert "POST /tasks/" in ancestors(publish, finished)  # the write's span, in the request
    assert set(applies) == {f"process {queue}" for queue in queues}
    trace_id = server.context.trace_id
    for apply in applies.values():
        assert apply.context.trace_id == trace_id
        assert apply.parent is not None
        assert apply.parent.span_id == publish.context.span_id
    # The call tasks made to auth is in the trace too, and told auth the request and trace.
    [call] = auth.requests
    assert call.headers["X-Request-ID"] == "traced-request"
    assert call.headers["traceparent"].split("-")[1] == format_trace_id(trace_id)
    # Each consumer's log line names the request, the trace and its own apply span.
    for queue in queues:
        line = consumed(logs, queue)
        assert line["request_id"] == "traced-request"
        assert line["trace_id"] == format_trace_id(trace_id)
        assert line["span_id"] == format_span_id(applies[f"process {queue}"].context.span_id)


def test_with_tracing_off_only_the_request_id_travels_to_the_consumers_logs(
    committed_system: System, engine: Engine, database_url: str, signer: TestSigner
) -> None:
    world = committed_system
    auth = FakeAuthUsers()
    app = tasks_app(world, auth, signer)
    database = Database(database_url, pool_size=4)
    queues = task_queues(world)

    async def scenario() -> tuple[JsonLogs, dict[str, Any]]:
        async with (
            world.broker(),
            bound_queue(world.tasks.events_exchange) as (_, queue),
            running(
                OutboxRelay(tasks_relay(world.tasks)),
                *world.consumers(database),
                *world.logs_consumers(database),
            ),
        ):
            with json_logs() as logs:
                task_id = post_task(app, signer, request_id="untraced-request")
                [message] = await receive(queue, 1, within=DEADLINE)
                await eventually(lambda: applied_by_both(engine, task_id), within=DEADLINE)
                await eventually(lambda: logged_by_both(logs, queues), within=DEADLINE)
        return logs, dict(message.headers)

    logs, headers = asyncio.run(scenario())
    database.dispose()

    with engine.connect() as connection:
        stored = connection.execute(text("SELECT request_id, trace_context FROM tasks.outbox"))
        assert stored.all() == [("untraced-request", None)]  # no trace context stored
    assert headers == {"x-request-id": "untraced-request"}  # and no traceparent sent
    assert "traceparent" not in auth.requests[0].headers
    for queue in queues:
        line = consumed(logs, queue)
        assert line["request_id"] == "untraced-request"
        assert "trace_id" not in line
