"""The assignee check: the tasks user directory first, one look-up at auth on a miss."""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from conftest import on_test_session
from services.tasks.config import TasksSettings
from services.tasks.consumer import handle
from services.tasks.main import create_app
from services.tasks.models import Task, processed_event, user_directory
from services.tasks.tests.factories import create_task, create_user, directory_users
from services.tasks.users import UserDirectory
from shared.contracts.events import USER_EVENTS, UserEvent
from shared.core.db import Database
from shared.messaging import directory
from shared.messaging.applying import Outcome
from shared.messaging.consumer import EventConsumer
from shared.messaging.queues import ConsumerConfig
from tests.auth_users import AUTH_URL, FakeAuthUsers
from tests.events import create_user_event, event_body
from tests.tokens import TestSigner

NOT_IN_AUTH = 5000  # the fake auth knows users 1 to 999 only


def _create(client: TestClient, signer: TestSigner, **body: Any) -> Any:
    return client.post("/tasks/", json={"title": "Review", **body}, headers=signer.headers(1))


def test_a_known_assignee_needs_no_auth(
    client: TestClient, signer: TestSigner, session: Session, fake_auth: FakeAuthUsers
) -> None:
    create_user(session, user_id=NOT_IN_AUTH)
    task = create_task(session, creator_id=1)
    fake_auth.up = False

    created = _create(client, signer, assignee_id=NOT_IN_AUTH)
    reassigned = client.patch(
        f"/tasks/{task.id}", json={"assignee_id": NOT_IN_AUTH}, headers=signer.headers(1)
    )

    assert (created.status_code, reassigned.status_code) == (201, 200)
    assert reassigned.json()["assignee_id"] == NOT_IN_AUTH
    assert fake_auth.requests == []


def test_the_call_to_auth_names_the_request_it_serves(
    client: TestClient, signer: TestSigner, fake_auth: FakeAuthUsers
) -> None:
    response = client.post(
        "/tasks/",
        json={"title": "Review", "assignee_id": 7},
        headers={**signer.headers(1), "X-Request-ID": "asks-auth"},
    )

    assert response.status_code == 201
    [request] = fake_auth.requests
    assert request.headers["X-Request-ID"] == "asks-auth"  # auth's logs name the same request
    assert "traceparent" not in request.headers  # tracing is off


def test_a_miss_asks_auth_once_and_remembers_the_answer(
    client: TestClient, signer: TestSigner, session: Session, fake_auth: FakeAuthUsers
) -> None:
    first = _create(client, signer, assignee_id=7)
    fake_auth.up = False
    second = _create(client, signer, assignee_id=7)

    assert (first.status_code, second.status_code) == (201, 201)
    [request] = fake_auth.requests
    assert request.url.path == "/auth/users/7"
    scheme, token = request.headers["Authorization"].split()
    assert (scheme, signer.verifier().verify(token).id) == ("Bearer", 1)  # the caller's token
    assert directory_users(session) == [(7, "user7", 0)]  # version 0: any event supersedes it


def test_a_miss_while_auth_is_down_is_503_and_nothing_is_written(
    client: TestClient, signer: TestSigner, session: Session, fake_auth: FakeAuthUsers
) -> None:
    create_user(session, user_id=2)
    fake_auth.up = False

    response = _create(client, signer, assignee_id=3)

    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert session.scalar(select(func.count()).select_from(Task)) == 0
    assert directory_users(session) == [(2, "user2", 1)]


@pytest.mark.parametrize(
    "failure",
    [httpx.Response(500, json={"code": "internal_error"}), httpx.Response(200, text="not json")],
    ids=["error", "garbage"],
)
def test_a_miss_auth_cannot_answer_is_503(
    client: TestClient,
    signer: TestSigner,
    session: Session,
    fake_auth: FakeAuthUsers,
    failure: httpx.Response,
) -> None:
    fake_auth.failure = failure

    assert _create(client, signer, assignee_id=3).status_code == 503
    assert directory_users(session) == []


def test_a_user_auth_does_not_know_is_422_and_is_not_remembered(
    client: TestClient, signer: TestSigner, session: Session, fake_auth: FakeAuthUsers
) -> None:
    response = _create(client, signer, assignee_id=NOT_IN_AUTH)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "assignee_id"
    assert directory_users(session) == []
    assert len(fake_auth.requests) == 1


def test_no_transaction_is_open_while_auth_answers(
    client: TestClient, signer: TestSigner, session: Session, fake_auth: FakeAuthUsers
) -> None:
    task = create_task(session, creator_id=1)
    in_transaction: list[bool] = []
    fake_auth.on_request = lambda _: in_transaction.append(session.in_transaction())

    created = _create(client, signer, assignee_id=8)
    reassigned = client.patch(
        f"/tasks/{task.id}", json={"assignee_id": 9}, headers=signer.headers(1)
    )

    assert (created.status_code, reassigned.status_code) == (201, 200)
    assert in_transaction == [False, False]
    assert [user_id for user_id, _, _ in directory_users(session)] == [8, 9]


@pytest.fixture
def user_consumer(database_url: str, connection: Connection) -> Iterator[EventConsumer[UserEvent]]:
    """The tasks consumer of user events, its transactions savepoints of the test's one."""
    database = Database(database_url, pool_size=1)
    database.sessionmaker = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    config = ConsumerConfig(
        amqp_url="amqp://unused", exchange="unused", queue="unused", binding_key=USER_EVENTS
    )
    yield EventConsumer(
        config, model=UserEvent, database=database, processed=processed_event, handler=handle
    )
    database.dispose()


def test_duplicate_and_out_of_order_user_events_change_nothing(
    user_consumer: EventConsumer[UserEvent], session: Session
) -> None:
    registered = create_user_event(user_id=4, username="ada", version=1)
    renamed = create_user_event(user_id=4, username="ada.lovelace", version=2)

    outcomes = [
        user_consumer.process(event_body(event)) for event in (renamed, registered, renamed)
    ]

    assert outcomes == [Outcome.APPLIED, Outcome.APPLIED, Outcome.DUPLICATE]
    assert directory_users(session) == [(4, "ada.lovelace", 2)]


def test_the_users_first_event_supersedes_what_auth_answered(
    client: TestClient,
    signer: TestSigner,
    session: Session,
    user_consumer: EventConsumer[UserEvent],
) -> None:
    assert _create(client, signer, assignee_id=6).status_code == 201  # a miss: auth answered
    assert directory_users(session) == [(6, "user6", 0)]

    user_consumer.process(event_body(create_user_event(user_id=6, username="six", version=1)))

    assert directory_users(session) == [(6, "six", 1)]


def test_an_answer_from_auth_never_overwrites_an_event(session: Session) -> None:
    create_user(session, user_id=6, username="six")

    directory.remember_user(session, user_directory, user_id=6, username="stale")

    assert directory_users(session) == [(6, "six", 1)]


def test_tasks_are_served_while_auth_is_slow_to_answer_for_unknown_assignees(
    settings: TasksSettings, committed: Session, signer: TestSigner, fake_auth: FakeAuthUsers
) -> None:
    """A look-up at auth holds no database thread: with more writes waiting on auth than
    there are threads, reads and writes that need no look-up are answered."""
    create_user(committed, user_id=2)
    committed.commit()
    waiting = settings.db_pool_size * 2
    users = UserDirectory(AUTH_URL, client=fake_auth.client())
    app = create_app(settings, users=users, token_verifier=signer.verifier())
    fake_auth.hold()
    try:
        with TestClient(app) as client, ThreadPoolExecutor(waiting) as pool:
            writes = [
                pool.submit(_create, client, signer, assignee_id=100 + n) for n in range(waiting)
            ]
            all_asked = fake_auth.wait_for_requests(waiting)
            listed = client.get("/tasks/", headers=signer.headers(1))
            known = _create(client, signer, assignee_id=2)
            fake_auth.release()
            answered = [write.result().status_code for write in writes]
    finally:
        fake_auth.release()

    assert all_asked  # every write waits on auth at once: none waits for a thread
    assert (listed.status_code, known.status_code) == (200, 201)
    assert answered == [201] * waiting
    assert committed.scalar(select(func.count()).select_from(Task)) == waiting + 1


def test_auth_saying_no_such_user_is_believed_briefly(
    client: TestClient, signer: TestSigner, fake_auth: FakeAuthUsers
) -> None:
    answers = [_create(client, signer, assignee_id=NOT_IN_AUTH) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [422] * 3
    assert len(fake_auth.requests) == 1  # the next two were told from the remembered answer


def test_a_remembered_no_such_user_expires(
    settings: TasksSettings, session: Session, signer: TestSigner, fake_auth: FakeAuthUsers
) -> None:
    users = UserDirectory(AUTH_URL, client=fake_auth.client(), unknown_ttl_seconds=0)
    app = on_test_session(
        create_app(settings, users=users, token_verifier=signer.verifier()), session
    )
    with TestClient(app) as client:
        first = _create(client, signer, assignee_id=NOT_IN_AUTH)
        fake_auth.names[NOT_IN_AUTH] = "newcomer"  # registered meanwhile
        second = _create(client, signer, assignee_id=NOT_IN_AUTH)

    assert (first.status_code, second.status_code) == (422, 201)
    assert len(fake_auth.requests) == 2
