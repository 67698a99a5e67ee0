"""One process's fan-out of new activity entries to its live streams (`services/logs/live.py`).

The process holds ONE PostgreSQL connection outside the pool, in autocommit, that `LISTEN`s on
`logs_activity` (sent after each commit of new entries, `services/logs/ordering.py`); the event
loop watches its socket (`add_reader`), so waiting costs no thread. On a notification one pump
task reads the entries after the last one it saw, in pages, with a pooled connection for the
length of the read, turns each into its SSE frame once, and hands the frame to every stream
whose filters it matches, all of a page at once. Notifications that arrive while it reads, or
while it waits after a hand-out (`gather_seconds`: longer with more streams open), are folded
into its next read. Entries are read in id order, which is commit order, so a stream never sees
one entry after a later one.

A stream's buffer is bounded: a stream that falls `buffer_limit` entries behind (its client
reads too slowly) is closed, and its client resumes from the last entry it got.
"""

import asyncio
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg2
import psycopg2.extensions
import structlog
from sqlalchemy import make_url

from services.logs import cursor, service
from services.logs.ordering import CHANNEL
from services.logs.schemas import LogFilters
from shared.core.db import CONNECT_ARGS, Database

logger = structlog.get_logger(__name__)

# Entries a stream may fall behind before it is closed as too slow (its client resumes): a
# frame is about 300 bytes, so a stream's buffer stays under about 300 KiB.
BUFFER_ENTRIES = 1000
# Entries per read: the process's reads of new entries, and a resume's backlog.
PAGE_SIZE = 500
# Stream wake-ups a second the hub aims to stay under. A hand-out wakes every stream it has
# entries for once, whatever it carries (each wake-up is a write through the gateway), so after
# a hand-out the hub waits before it reads again, in proportion to the open streams: 1,000
# streams wait 200 ms (at most 5 hand-outs a second), 10 streams 2 ms. Entries committed in
# between go out together; an entry after a quiet spell goes out at once. A wake-up costs the
# process about 35 us (docs/live-activity.md): 5,000 a second keep it under a fifth of a core.
WAKE_UPS_PER_SECOND = 5_000
MAX_GATHER_SECONDS = 0.25
# An entry as the hub hands it out: its id, its columns (for the filters) and its SSE frame.
Entry = tuple[int, dict[str, Any], bytes]


@dataclass(eq=False, slots=True)
class Subscriber:
    """One open stream: its filters, the frames waiting for it, why it must end (if it must).

    Kept small (slots, a list, one future while it waits): a process holds thousands."""

    filters: LogFilters
    buffer_limit: int
    frames: list[tuple[int, bytes]] = field(default_factory=list)  # (entry id, frame)
    last_id: int = 0  # the newest entry handed to it (a resume's backlog sets it first)
    ended: str | None = None  # slow, shutdown, generation_changed, disconnected
    beat_due: bool = False  # its heartbeat is due (`beat`)
    _woken: bool = False  # woken while not waiting: the next `wait` returns at once
    _waiter: asyncio.Future[None] | None = None

    def offer(self, entries: Sequence[Entry]) -> bool:
        """Queue the frames of the entries the stream wants (entries in id order), waking it
        once; end the stream if it falls too far behind. False once it has ended (the hub then
        forgets it)."""
        if self.ended:
            return False
        wanted = [
            (entry_id, frame)
            for entry_id, row, frame in entries
            if entry_id > self.last_id and service.matches(self.filters, row)
        ]
        if not wanted:
            return True
        if len(self.frames) + len(wanted) > self.buffer_limit:
            self.frames.clear()  # what it missed is in the table: its client resumes
            self.end("slow")
            return False
        self.frames.extend(wanted)
        self.last_id = wanted[-1][0]
        self._wake()
        return True

    def skip_through(self, entry_id: int) -> None:
        """Forget the entries up to `entry_id` (a resume sent them from the table)."""
        self.frames = [(frame_id, frame) for frame_id, frame in self.frames if frame_id > entry_id]
        self.last_id = max(self.last_id, entry_id)

    def end(self, reason: str) -> None:
        """Ask the stream to end (it ends after the frames it holds)."""
        self.ended = self.ended or reason
        self._wake()

    def beat(self) -> None:
        """Its heartbeat is due (a timer's callback)."""
        self.beat_due = True
        self._wake()

    async def wait(self) -> None:
        """Until it is woken (by `offer`, `end` or `beat`), unless it was since the last wait."""
        if not self._woken:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        self._woken = False

    def _wake(self) -> None:
        self._woken = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class ActivityHub:
    """The listening connection, the pump, and the subscribers of one API process."""

    def __init__(
        self,
        database: Database,
        url: str,
        *,
        page_size: int = PAGE_SIZE,
        buffer_limit: int = BUFFER_ENTRIES,
        wake_ups_per_second: float = WAKE_UPS_PER_SECOND,
    ) -> None:
        self.database = database
        self.page_size = page_size
        self.buffer_limit = buffer_limit
        self.wake_ups_per_second = wake_ups_per_second
        self.generation = ""  # of the activity log's table (`service.generation`)
        self.last_id = 0
        self.ready = asyncio.Event()  # listening, and `last_id` known
        self.closing = False
        self._connect_args = _psycopg2_args(url)
        self._subscribers: set[Subscriber] = set()
        self._pending = asyncio.Event()
        self._listener: psycopg2.extensions.connection | None = None
        self._listener_fd = -1
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Be ready to start: end streams on SIGTERM. Nothing listens before the first stream."""
        self._chain_exit_signals()

    async def ensure_listening(self) -> None:
        """Listen and pump in the background from now on (reconnecting when PostgreSQL goes
        away); return once new entries are handed out."""
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._pump())]
        await self.ready.wait()

    async def stop(self) -> None:
        """End every stream and stop listening."""
        self.shut_down()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._close_listener()

    def shut_down(self) -> None:
        """End every open stream now, and any that begins from here on (the process stops)."""
        self.closing = True
        for subscriber in list(self._subscribers):
            subscriber.end("shutdown")

    @property
    def streams(self) -> int:
        """The streams subscribed now."""
        return len(self._subscribers)

    def gather_seconds(self) -> float:
        """How long to wait after a hand-out before the next read (see WAKE_UPS_PER_SECOND)."""
        return min(self.streams / self.wake_ups_per_second, MAX_GATHER_SECONDS)

    def subscribe(self, filters: LogFilters) -> Subscriber:
        """A new stream's subscription: from now on it is handed every new entry it matches."""
        subscriber = Subscriber(filters=filters, buffer_limit=self.buffer_limit)
        if self.closing:
            subscriber.end("shutdown")
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    async def _pump(self) -> None:
        """Connect and listen; then read and hand out new entries on each notification."""
        while True:
            try:
                await self._listen()
                while True:
                    await self._hand_out_new()
                    await asyncio.sleep(self.gather_seconds())
                    await self._pending.wait()
                    self._pending.clear()
            except (psycopg2.Error, OSError) as exc:  # PostgreSQL restarted, network cut, ...
                logger.warning("live_listener_lost", error=repr(exc))
            except Exception as exc:  # the pool's own failures (e.g. 503 when overloaded)
                logger.warning("live_read_failed", error=repr(exc))
            self._close_listener()
            await asyncio.sleep(1.0)

    async def _listen(self) -> None:
        """Open the listening connection (in a thread: connecting blocks) and watch its socket."""
        if self._listener is not None:
            return
        connection = await asyncio.to_thread(psycopg2.connect, **self._connect_args)
        connection.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
        with connection.cursor() as cursor:
            cursor.execute(f"LISTEN {CHANNEL}")
        self._listener, self._listener_fd = connection, connection.fileno()
        asyncio.get_running_loop().add_reader(self._listener_fd, self._on_readable)
        if not self.ready.is_set():  # first start: streams begin at the newest entry
            self.generation, self.last_id = await self.database.read(service.newest)
            self.ready.set()
        self._pending.set()  # after a reconnect: what was committed meanwhile

    def _on_readable(self) -> None:
        listener = self._listener
        assert listener is not None
        try:
            listener.poll()
        except psycopg2.Error:
            self._close_listener()
            self._pending.set()  # the pump's read then fails and it reconnects
            return
        if listener.notifies:
            listener.notifies.clear()
            self._pending.set()

    async def _hand_out_new(self) -> None:
        """Read every entry after `last_id`, page by page, and hand each to its subscribers."""
        if self._listener is None:
            raise OSError("the listening connection is closed")
        while True:
            generation, rows = await self.database.read(
                service.entries_after, after=self.last_id, limit=self.page_size
            )
            if generation != self.generation:
                self._new_generation(generation)
                return
            entries = [(row["id"], row, cursor.activity_frame(generation, row)) for row in rows]
            if entries:
                # One offer per stream for the whole page: one wake-up each, not one per entry.
                for subscriber in list(self._subscribers):
                    if not subscriber.offer(entries):
                        self._subscribers.discard(subscriber)
                self.last_id = entries[-1][0]
            if len(rows) < self.page_size:
                return

    def _new_generation(self, generation: str) -> None:
        """The table was rebuilt (a replay): no cursor of the old one means anything now."""
        logger.info("live_generation_changed", old=self.generation, new=generation)
        self.generation = generation
        self.last_id = 0
        for subscriber in list(self._subscribers):
            subscriber.end("generation_changed")
        self._pending.set()

    def _close_listener(self) -> None:
        if self._listener is None:
            return
        asyncio.get_running_loop().remove_reader(self._listener_fd)
        self._listener.close()
        self._listener = None

    def _chain_exit_signals(self) -> None:
        """End open streams as soon as SIGTERM or SIGINT arrives, then let the server's own
        handler run: uvicorn waits for open responses before it shuts down, and a stream never
        ends by itself."""
        if threading.current_thread() is not threading.main_thread():
            return  # a server in a thread (tests): signals are not ours to take
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(number)
            signal.signal(number, _chained(loop, self.shut_down, previous))


def _chained(loop: asyncio.AbstractEventLoop, first: Callable[[], None], previous: Any) -> Any:
    def handler(number: int, frame: Any) -> None:
        loop.call_soon_threadsafe(first)
        if callable(previous):
            previous(number, frame)

    return handler


def _psycopg2_args(url: str) -> dict[str, Any]:
    """psycopg2.connect's arguments for a SQLAlchemy URL, with the pool's connection options."""
    parsed = make_url(url)
    args: dict[str, Any] = parsed.translate_connect_args(username="user", database="dbname")
    return {**CONNECT_ARGS, **args, **dict(parsed.query)}
