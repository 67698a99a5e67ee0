"""The dispatcher against a real receiver: signatures, the retry schedule on a clock the test
moves, Retry-After, 410, failing endpoints, redirects and timeouts."""

import asyncio
import random
import threading
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.hooks.config import HooksSettings
from services.hooks.dispatcher import Dispatcher
from services.hooks.metrics import BacklogCollector
from services.hooks.models import Endpoint
from services.hooks.schedule import JITTER, SCHEDULE
from services.hooks.tests.clock import Clock
from services.hooks.tests.factories import (
    attempts,
    create_delivery,
    create_endpoint,
    create_event,
    deliveries,
    endpoint_of,
)
from services.hooks.tests.receiver import Answer, Receiver
from shared.contracts.events import TaskEventType
from shared.core.db import Database


def dispatch_once(settings: HooksSettings, database: Database, **options: object) -> int:
    """One dispatcher round, run to its end; how many deliveries it sent."""

    async def round_() -> int:
        dispatcher = Dispatcher(settings, database=database, **options)  # type: ignore[arg-type]
        try:
            return await dispatcher.dispatch_once()
        finally:
            await dispatcher.client.aclose()

    return asyncio.run(round_())


def test_a_delivery_is_signed_as_standard_webhooks_says(
    settings: HooksSettings, database: Database, engine: Engine, receiver: Receiver
) -> None:
    endpoint = create_endpoint(engine, url=receiver.url())
    event = create_event(
        event_type=TaskEventType.UPDATED, task_id=7, version=3, changes={"status": ("todo", "done")}
    )
    create_delivery(engine, endpoint=endpoint, event=event)

    assert dispatch_once(settings, database) == 1

    (got,) = receiver.requests()
    assert got.headers["webhook-id"] == str(event.event_id)
    body = Webhook(endpoint.secret).verify(got.body, got.headers)  # the reference library
    assert body == {
        "type": "task.updated",
        "timestamp": event.occurred_at.isoformat(),
        "data": {
            "event_id": str(event.event_id),
            "actor_id": event.actor_id,
            "task_id": 7,
            "version": 3,
            "task": event.task.model_dump(mode="json"),
            "changes": {"status": {"old": "todo", "new": "done"}},
        },
    }
    tampered = got.body.replace(b'"version":3', b'"version":4')
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(tampered, got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(create_endpoint(engine, url=receiver.url()).secret).verify(got.body, got.headers)
    (delivery,) = deliveries(engine)
    assert (delivery.status, delivery.last_status_code, delivery.next_attempt_at) == (
        "succeeded",
        200,
        None,
    )


def test_a_signature_with_an_old_timestamp_is_refused(
    settings: HooksSettings, database: Database, engine: Engine, receiver: Receiver
) -> None:
    """A request replayed later fails: the timestamp is signed, and receivers check its age."""
    endpoint = create_endpoint(engine, url=receiver.url())
    ten_minutes_ago = Clock()  # the attempt is signed then
    ten_minutes_ago.advance(minutes=-10)
    create_delivery(engine, endpoint=endpoint, next_attempt_at=ten_minutes_ago.now)

    dispatch_once(settings, database, clock=ten_minutes_ago)

    (got,) = receiver.requests()
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(endpoint.secret).verify(got.body, got.headers)


def test_after_a_rotation_both_secrets_sign_until_the_overlap_ends(
    settings: HooksSettings, database: Database, engine: Engine, receiver: Receiver
) -> None:
    endpoint = create_endpoint(engine, url=receiver.url())
    old_secret = endpoint.secret
    new_secret = create_endpoint(engine, url=receiver.url()).secret  # just a valid secret
    clock = Clock()
    with engine.begin() as connection:
        connection.execute(
            update(Endpoint)
            .where(Endpoint.id == endpoint.id)
            .values(
                secret=new_secret,
                previous_secret=old_secret,
                previous_secret_expires_at=clock.now + timedelta(hours=1),
            )
        )
    create_delivery(engine, endpoint=endpoint, next_attempt_at=clock.now)
    dispatch_once(settings, database, clock=clock)
    clock.advance(hours=1)
    create_delivery(engine, endpoint=endpoint, next_attempt_at=clock.now)
    dispatch_once(settings, database, clock=clock)

    during, after = receiver.requests()
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    Webhook(old_secret).verify(during.body, during.headers)
    Webhook(new_secret).verify(during.body, during.headers)
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(after.body, after.headers)


def test_failed_attempts_follow_the_schedule_with_jitter_then_the_delivery_fails(
    settings: HooksSettings, database: Database, engine: Engine, receiver: Receiver
) -> None:
    receiver.answer = lambda _: Answer(500)
    endpoint = create_endpoint(engine, url=receiver.url())
    clock = Clock()
    create_delivery(engine, endpoint=endpoint, next_attempt_at=clock.now)
    waits = []

    for attempt in range(1, len(SCHEDULE) + 1):
        assert dispatch_once(settings, database, clock=clock, rng=random.Random(attempt)) == 1
        (delivery,) = deliveries(engine)
        assert delivery.attempt_count == attempt
        if delivery.next_attempt_at is None:
            break
        wait = (delivery.next_attempt_at - clock.now).total_seconds()
        waits.append(wait)
        clock.advance(seconds=wait - 0.5)
        assert dispatch_once(settings, database, clock=clock) == 0  # not due yet
        clock.advance(seconds=0.5)

    assert len(waits) == len(SCHEDULE) - 1  # 8 attempts: at once, then 7 waits
    ratios = [wait / step for wait, step in zip(waits, SCHEDULE[1:], strict=True)]
    assert all(1 - JITTER <= ratio <= 1 + JITTER for ratio in ratios), ratios
    assert len({round(ratio, 6) for ratio in ratios}) > 1  # jittered, not the bare steps
    (delivery,) = deliveries(engine)
    assert (delivery.status, delivery.last_status_code) == ("failed", 500)
    assert [attempt.status_code for attempt in attempts(engine)] == [500] * len(SCHEDULE)
    assert dispatch_once(settings, database, clock=clock) == 0
    assert len(receiver.requests()) == len(SCHEDULE)


def test_retry_after_is_honoured(
    settings: HooksSettings, database: Database, engine: Engine, receiver: Receiver
) -> None:
    receiver.answer = lambda _: Answer(503, headers=(("Retry-After", "120"),))
    endpoint = create_endpoint(engine, url=receiver.url())
    clock = Clock()
    create_delivery(engine, endpoint=endpoint, next_attempt_at=clock.now)

    dispatch_once(settings, database, clock=clock)

    (delivery,) = deliveries(engine)
    assert delivery.next_attempt_at is not None
    assert (delivery.next_attempt_at - clock.now).total_seconds() >= 120  # not the 5 s step


def test_a_410_disables_the_endpoint(
    settings: HooksSettings, database: Database, engine: Engine, receiver: Receiver
) -> None:
    receiver.answer = lambda _: Answer(410)
    endpoint = create_endpoint(engine, url=receiver.url())
    create_delivery(engine, endpoint=endpoint)

    dispatch_once(settings, database)
    create_delivery(engine, endpoint=endpoint)

    assert dispatch_once(settings, database) == 0  # nothing goes to a disabled endpoint
    gone = endpoint_of(engine, endpoint.id)
    assert (gone.status, gone.disabled_reason) == ("disabled", "gone")
    assert [delivery.status for delivery in deliveries(engine)] == ["failed", "pending"]
    assert len(receiver.requests()) == 1
    gauges = {family.name: family for family in BacklogCollector(database).collect()}
    disabled = {
        s.labels["reason"]: s.value for s in gauges["efficient_hooks_disabled_endpoints"].samples
    }
    assert disabled == {"manual": 0, "gone": 1, "failing": 0}


def test_an_endpoint_failing_for_days_is_disabled_and_a_success_forgives(
    settings: HooksSettings, database: Database, engine: Engine, receiver: Receiver
) -> None:
    receiver.answer = lambda _: Answer(500)
    failing = create_endpoint(engine, url=receiver.url("/failing"))
    recovering = create_endpoint(engine, url=receiver.url("/recovering"))
    clock = Clock()
    for endpoint in (failing, recovering):
        create_delivery(engine, endpoint=endpoint, next_attempt_at=clock.now)
    dispatch_once(settings, database, clock=clock)
    first_failure = clock.now

    clock.advance(days=settings.hooks_disable_after_days, seconds=-60)
    receiver.answer = lambda got: Answer(200 if got.path == "/recovering" else 500)
    for endpoint in (failing, recovering):
        create_delivery(engine, endpoint=endpoint, next_attempt_at=clock.now)
    dispatch_once(settings, database, clock=clock)
    assert endpoint_of(engine, failing.id).failing_since == first_failure
    assert endpoint_of(engine, failing.id).status == "active"  # not quite the days yet
    assert endpoint_of(engine, recovering.id).failing_since is None

    clock.advance(seconds=120)
    create_delivery(engine, endpoint=failing, next_attempt_at=clock.now)
    dispatch_once(settings, database, clock=clock)

    disabled = endpoint_of(engine, failing.id)
    assert (disabled.status, disabled.disabled_reason) == ("disabled", "failing")
    assert endpoint_of(engine, recovering.id).status == "active"


def test_a_redirect_is_not_followed(
    settings: HooksSettings, database: Database, engine: Engine, receiver: Receiver
) -> None:
    receiver.answer = lambda got: Answer(
        302 if got.path == "/hook" else 200, headers=(("Location", receiver.url("/elsewhere")),)
    )
    endpoint = create_endpoint(engine, url=receiver.url())
    create_delivery(engine, endpoint=endpoint)

    dispatch_once(settings, database)

    assert [got.path for got in receiver.requests()] == ["/hook"]
    (attempt,) = attempts(engine)
    assert (attempt.status_code, attempt.succeeded, attempt.error) == (
        302,
        False,
        "redirects are not followed",
    )
    assert deliveries(engine)[0].status == "pending"  # tried again later


def test_an_attempt_without_an_answer_in_time_fails(
    settings: HooksSettings, database: Database, engine: Engine, receiver: Receiver
) -> None:
    released = threading.Event()
    receiver.answer = lambda _: Answer(200 if released.wait(30) else 500)
    endpoint = create_endpoint(engine, url=receiver.url())
    create_delivery(engine, endpoint=endpoint)
    quick = settings.model_copy(update={"hooks_attempt_timeout_seconds": 0.3})

    try:
        dispatch_once(quick, database)
    finally:
        released.set()

    (attempt,) = attempts(engine)
    assert (attempt.status_code, attempt.error) == (None, "no answer within 0.3 s")
    assert deliveries(engine)[0].status == "pending"


def test_a_name_resolving_to_loopback_is_refused_at_connection(
    strict_settings: HooksSettings, database: Database, engine: Engine, receiver: Receiver
) -> None:
    """E.g. a name registered while allowed (or while public), now resolving to 127.0.0.1."""
    endpoint = create_endpoint(engine, url=receiver.url(host="localhost"))
    create_delivery(engine, endpoint=endpoint)

    dispatch_once(strict_settings, database)

    assert receiver.requests() == []
    (attempt,) = attempts(engine)
    assert attempt.status_code is None
    assert attempt.error is not None
    assert "resolves to 127.0.0.1, an internal address" in attempt.error
