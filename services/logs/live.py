"""`GET /logs/stream`: the activity log as Server-Sent Events (docs/live-activity.md).

A stream that begins from a cursor first reads the entries after it from the table in pages,
then goes on with the ones its process's hub hands it (`services/logs/hub.py`); it subscribes
before it reads, and drops what it got twice by id, so nothing falls between the two. Each
entry's frame is encoded once per process (FastAPI's SSE encoder), and a stream writes what
waits for it in one chunk. The response is sent detached from the request's layers
(`services/logs/streaming.py`), so an open stream holds little more than its connection.
"""

import asyncio
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

from fastapi.sse import KEEPALIVE_COMMENT

from services.logs import cursor, service
from services.logs.hub import ActivityHub, Subscriber
from services.logs.live_metrics import CLOSED, EVENTS_SENT, RESETS, RESUMES, STREAMS_OPEN
from services.logs.schemas import LogFilters
from shared.core.db import Database

# A comment line on an idle stream this often, so proxies keep it open (the gateway waits 60 s).
HEARTBEAT_SECONDS = 15.0


@dataclass(frozen=True)
class StreamRequest:
    """What one stream sends: its filters, where it resumes, until when its token is good."""

    filters: LogFilters
    resume_from: str | None  # the client's cursor (Last-Event-ID or `after`), if any
    expires_at: float  # the token's `exp` (seconds since the epoch)


@dataclass(frozen=True)
class OpenStream:
    """A stream's bytes, and what ends it early (its client went away)."""

    chunks: AsyncGenerator[bytes, None]
    end: Callable[[], None]


# A stream's end reason when its client went away (not the server's doing: not counted).
DISCONNECTED = "disconnected"


async def open_stream(
    hub: ActivityHub, database: Database, request: StreamRequest, *, heartbeat: float
) -> OpenStream:
    """The stream: a reset, or the backlog after the cursor and then live entries.

    The stream is subscribed before this returns, so an entry committed once the client has the
    response headers reaches it."""
    start = None
    if request.resume_from is not None:
        start = cursor.parse(request.resume_from)
        if start is None or not await database.read(
            service.resumable, cursor_generation=start[0], entry_id=start[1]
        ):
            return OpenStream(_reset("cursor_unknown"), end=lambda: None)
        RESUMES.inc()
    subscriber = hub.subscribe(request.filters)
    chunks = _events(hub, database, subscriber, start, request.expires_at, heartbeat)
    return OpenStream(chunks, end=lambda: subscriber.end(DISCONNECTED))


async def _reset(reason: str) -> AsyncGenerator[bytes, None]:
    RESETS.labels(reason).inc()
    yield cursor.reset_frame(reason)


async def _events(
    hub: ActivityHub,
    database: Database,
    subscriber: Subscriber,
    start: tuple[str, int] | None,
    expires_at: float,
    heartbeat: float,
) -> AsyncGenerator[bytes, None]:
    """The backlog after `start` (if any), then the entries the hub hands over, as they come;
    a comment line when idle for `heartbeat`. One generator for the live part: a stream holds
    it for hours, and each chunk resumes it."""
    STREAMS_OPEN.inc()
    loop = asyncio.get_running_loop()
    try:
        if start is not None:
            async for chunk in _backlog(hub, database, subscriber, start):
                yield chunk
        while True:
            if subscriber.ended == DISCONNECTED:
                return
            if subscriber.ended == "slow":
                CLOSED.labels("slow").inc()  # what it missed is in the table: it resumes
                return
            if subscriber.frames:
                frames = [frame for _, frame in subscriber.frames]
                subscriber.frames.clear()
                EVENTS_SENT.inc(len(frames))
                yield b"".join(frames)
                continue
            if subscriber.ended == "generation_changed":
                RESETS.labels("generation_changed").inc()
                yield cursor.reset_frame("generation_changed")
                return
            if subscriber.ended is not None:
                CLOSED.labels(subscriber.ended).inc()
                return
            remaining = expires_at - time.time()
            if remaining <= 0:
                CLOSED.labels("token_expired").inc()
                return
            if subscriber.beat_due:
                subscriber.beat_due = False
                yield KEEPALIVE_COMMENT
                continue
            # One timer while it waits (an asyncio.timeout would cost a stream several objects).
            timer = loop.call_later(min(heartbeat, remaining), subscriber.beat)
            try:
                await subscriber.wait()
            finally:
                timer.cancel()
    finally:
        hub.unsubscribe(subscriber)
        STREAMS_OPEN.dec()


async def _backlog(
    hub: ActivityHub, database: Database, subscriber: Subscriber, start: tuple[str, int]
) -> AsyncGenerator[bytes, None]:
    """The entries committed after the cursor, page by page; then what the hub queued
    meanwhile is trimmed to the entries after the last one sent."""
    generation, after = start
    while subscriber.ended is None:  # e.g. the client went away: no more pages
        rows = await database.read(
            service.backlog, filters=subscriber.filters, after=after, limit=hub.page_size
        )
        if rows:
            EVENTS_SENT.inc(len(rows))
            yield b"".join(cursor.activity_frame(generation, row) for row in rows)
            after = rows[-1]["id"]
        if len(rows) < hub.page_size:
            break
    subscriber.skip_through(after)
