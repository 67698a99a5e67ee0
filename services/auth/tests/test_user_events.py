"""User events: stored with the change that makes them, relayed to `auth.events`, backfilled."""

import asyncio
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from conftest import fresh_database
from services.auth import service
from services.auth.config import AuthSettings
from services.auth.models import OUTBOX, User
from services.auth.relay import relay_config
from services.auth.schemas import UserCreate
from services.auth.tests.factories import PASSWORDS, create_user, outbox_events
from shared.contracts.events import FieldChange, UserEvent, UserEventType, UserSnapshot
from shared.contracts.roles import Role
from shared.core.migrations import upgrade
from shared.messaging.broker import declare_events_exchange
from shared.messaging.relay import OutboxRelay
from tests.broker import AMQP_URL, channel_to, receive, running, unique_name

SERVICE_DIR = Path(__file__).parents[1]


def _register(client: TestClient, username: str = "alice") -> Any:
    body = {"username": username, "email": f"{username}@example.com", "password": "s3cret-pass"}
    return client.post("/auth/register", json=body)


def _admin(session: Session, username: str, **options: Any) -> User:
    return service.ensure_admin(
        session,
        username=username,
        email=f"{username}@example.com",
        password="a-long-admin-password",
        passwords=PASSWORDS,
        **options,
    )


def test_a_registration_stores_its_event_with_the_public_facts_only(
    client: TestClient, session: Session
) -> None:
    user = _register(client).json()

    [event] = outbox_events(session)

    assert event.event_type is UserEventType.REGISTERED
    assert (event.user_id, event.version, event.actor_id) == (user["id"], 1, user["id"])
    assert event.user == UserSnapshot(id=user["id"], username="alice", role=Role.USER)
    assert event.changes == {}
    stored = session.scalar(select(OUTBOX.table.c.payload))
    assert "alice@example.com" not in str(stored)  # the email stays private to auth


def test_a_refused_registration_stores_no_event(client: TestClient, session: Session) -> None:
    create_user(session, username="alice")

    assert _register(client).status_code == 409
    assert outbox_events(session) == []


def test_promoting_a_user_to_admin_is_a_user_updated_event(session: Session) -> None:
    user = create_user(session, username="carol")

    _admin(session, "carol", promote=True)

    [event] = outbox_events(session)
    assert event.event_type is UserEventType.UPDATED
    assert (event.user_id, event.version, event.actor_id) == (user.id, 2, None)
    assert event.user.role is Role.ADMIN
    assert event.changes == {"role": FieldChange(old="user", new="admin")}
    assert user.version == 2


def test_a_new_admin_is_registered_and_an_unchanged_one_stores_nothing(session: Session) -> None:
    _admin(session, "root")
    _admin(session, "root", reset_password=True)  # the password is no one else's business

    [event] = outbox_events(session)
    assert (event.event_type, event.user.role, event.version) == (
        UserEventType.REGISTERED,
        Role.ADMIN,
        1,
    )


def test_the_relay_publishes_user_events_to_their_exchange(
    committed: Session, settings: AuthSettings
) -> None:
    relay_settings = settings.model_copy(
        update={
            "user_events_exchange": unique_name("auth.events"),
            "amqp_url": AMQP_URL,
            "relay_poll_seconds": 0.2,
        }
    )
    exchange_name = relay_settings.user_events_exchange

    async def scenario() -> list[UserEvent]:
        async with channel_to(AMQP_URL, exchange=exchange_name) as channel:
            exchange = await declare_events_exchange(channel, exchange_name)
            queue = await channel.declare_queue(exclusive=True)
            await queue.bind(exchange, routing_key="user.#")
            async with running(OutboxRelay(relay_config(relay_settings))):
                service.register(
                    committed,
                    data=UserCreate(username="dave", email="dave@example.com", password="pw-12345"),
                    password_hash=PASSWORDS.hash("pw-12345"),
                )
                _admin(committed, "dave", promote=True)
                messages = await receive(queue, 2)
        events = [UserEvent.model_validate_json(message.body) for message in messages]
        assert [message.routing_key for message in messages] == [e.event_type for e in events]
        return events

    received = asyncio.run(scenario())

    assert [(event.event_type, event.version) for event in received] == [
        (UserEventType.REGISTERED, 1),
        (UserEventType.UPDATED, 2),
    ]
    assert (
        committed.scalar(select(OUTBOX.table.c.id).where(OUTBOX.table.c.published_at.is_(None)))
        is None
    )


@pytest.fixture
def upgrade_database_url(database_url: str) -> str:
    """A database of this run's own for upgrade tests: `<test database>_upgrade_test`."""
    name = database_url.rsplit("/", 1)[1].removesuffix("_test") + "_upgrade_test"
    return fresh_database(database_url, name)


def test_the_upgrade_writes_one_event_per_existing_user(upgrade_database_url: str) -> None:
    upgrade(SERVICE_DIR, upgrade_database_url, revision="0001")
    engine = create_engine(upgrade_database_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO auth.user (username, email, password_hash, role) VALUES"
                " ('early', 'early@example.com', 'x', 'user'),"
                " ('boss', 'boss@example.com', 'x', 'admin')"
            )
        )

    upgrade(SERVICE_DIR, upgrade_database_url)

    with Session(engine) as session:
        events = outbox_events(session)
        versions = session.scalars(select(User.version).order_by(User.id)).all()
        payloads = session.scalars(select(OUTBOX.table.c.payload)).all()
    engine.dispose()
    assert [(event.event_type, event.version, event.actor_id) for event in events] == [
        (UserEventType.REGISTERED, 1, None)
    ] * 2
    assert [event.user for event in events] == [
        UserSnapshot(id=1, username="early", role=Role.USER),
        UserSnapshot(id=2, username="boss", role=Role.ADMIN),
    ]
    assert versions == [1, 1]
    assert all("@example.com" not in str(payload) for payload in payloads)
