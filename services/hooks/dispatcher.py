"""The hooks dispatcher: sends due deliveries to their endpoints and schedules the retries.

python -m services.hooks.dispatcher   # as many replicas as wanted

Each round claims due deliveries (`claims.py`), at most `HOOKS_ENDPOINT_CONCURRENCY` attempts in
flight per endpoint and `HOOKS_MAX_IN_FLIGHT` in all, so a slow or dead endpoint holds only its
own slots. It is woken by the consumer's NOTIFY, by a finished attempt, or every
`HOOKS_POLL_SECONDS` (retries fall due without a NOTIFY). An attempt posts the body with its
Standard Webhooks headers (`messages.py`) through `PinnedTransport` (`targets.py`), follows no
redirect, and gives up after `HOOKS_ATTEMPT_TIMEOUT_SECONDS`.
"""

import asyncio
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import structlog
from sqlalchemy.orm import Session

from services.hooks import claims, messages, metrics
from services.hooks.config import HooksSettings
from services.hooks.models import CHANNEL, DeliveryStatus
from services.hooks.schedule import retry_after_seconds
from services.hooks.targets import AllowList, PinnedTransport, TargetRefusedError
from shared.core.db import Database
from shared.messaging.relay import OutboxListener
from shared.messaging.worker import Work, run_worker

logger = structlog.get_logger(__name__)
LEASE_MARGIN_SECONDS = 60.0  # beyond the attempt's timeout: time to record its outcome


def utc_now() -> datetime:
    return datetime.now(UTC)


class Dispatcher:
    """Claims and sends deliveries; see the module docstring."""

    def __init__(
        self,
        settings: HooksSettings,
        *,
        database: Database,
        clock: Callable[[], datetime] = utc_now,
        rng: random.Random | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.clock = clock
        self.rng = rng or random.Random()
        self.timeout = settings.hooks_attempt_timeout_seconds
        # A connection kept for each attempt that may run at once: with fewer, attempts beyond
        # them each open (and close) a connection of their own. The client's own `limits` would
        # not apply: they configure the transport it makes, and it is given this one.
        transport = transport or PinnedTransport(
            AllowList(settings.hooks_allowed_targets),
            https_only=settings.environment == "production",
            limits=httpx.Limits(
                max_connections=None, max_keepalive_connections=settings.hooks_max_in_flight
            ),
        )
        self.client = httpx.AsyncClient(
            transport=transport, follow_redirects=False, timeout=self.timeout
        )
        self._busy: dict[int, int] = {}  # endpoint id -> attempts in flight here
        self._attempts: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._unrecorded: list[
            tuple[claims.Claim, claims.Result, asyncio.Future[DeliveryStatus]]
        ] = []
        self._recording: asyncio.Task[None] | None = None

    async def claim(self) -> list[claims.Claim]:
        """Claim what is due and fits in the free slots (committed)."""
        room = self.settings.hooks_max_in_flight - len(self._attempts)
        if room <= 0:
            return []
        return await self.database.run(
            _claim_committed,
            now=self.clock(),
            limit=min(room, self.settings.hooks_dispatch_batch_size),
            per_endpoint=self.settings.hooks_endpoint_concurrency,
            busy=dict(self._busy),
            lease_seconds=self.timeout + LEASE_MARGIN_SECONDS,
        )

    async def dispatch_once(self) -> int:
        """One round, waited out: claim what is due, send it, record it; how many were sent."""
        claimed = await self.claim()
        await asyncio.gather(*(self.attempt(claim) for claim in claimed))
        return len(claimed)

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until `stop` is set; attempts in flight then get their timeout to finish."""
        listener = OutboxListener(self.settings.database_url, channel=CHANNEL)
        stopping = asyncio.ensure_future(stop.wait())
        stopping.add_done_callback(lambda _: self._wake.set())
        try:
            while not stop.is_set():
                try:
                    claimed = await self.claim()
                except Exception:  # the database is away: log, wait, try again
                    logger.exception("hooks_claim_failed")
                    claimed = []
                for claim in claimed:
                    self._start(claim)
                if not claimed or len(self._attempts) >= self.settings.hooks_max_in_flight:
                    await listener.wait(self.settings.hooks_poll_seconds, self._wake)
                    self._wake.clear()
        finally:
            stopping.cancel()
            listener.close()
            if self._attempts:
                await asyncio.wait(self._attempts, timeout=self.timeout + 5)
            await self.client.aclose()

    def _start(self, claim: claims.Claim) -> None:
        self._busy[claim.endpoint_id] = self._busy.get(claim.endpoint_id, 0) + 1
        task = asyncio.create_task(self._attempt_in_slot(claim))
        self._attempts.add(task)
        task.add_done_callback(self._finished)

    async def _attempt_in_slot(self, claim: claims.Claim) -> None:
        try:
            result = await self.send(claim)
        finally:  # the endpoint's slot is its connection: free once the answer is in
            left = self._busy.get(claim.endpoint_id, 1) - 1
            if left:
                self._busy[claim.endpoint_id] = left
            else:
                self._busy.pop(claim.endpoint_id, None)
            self._wake.set()  # its endpoint's next delivery may go
        await self.record(claim, result)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._attempts.discard(task)
        self._wake.set()
        if not task.cancelled() and task.exception() is not None:
            logger.error("hooks_attempt_crashed", error=repr(task.exception()))

    async def attempt(self, claim: claims.Claim) -> None:
        """Send one claimed delivery and record what came of it."""
        await self.record(claim, await self.send(claim))

    async def record(self, claim: claims.Claim, result: claims.Result) -> None:
        """Record an attempt's outcome, with the others finished meanwhile (one transaction)."""
        recorded = asyncio.get_running_loop().create_future()
        self._unrecorded.append((claim, result, recorded))
        if self._recording is None:  # one writer: what finishes meanwhile waits for the next
            self._recording = asyncio.create_task(self._record())
        status: DeliveryStatus = await recorded
        outcome = {DeliveryStatus.PENDING: "retrying"}.get(status, status.value)
        metrics.DELIVERIES.labels(outcome).inc()

    async def _record(self) -> None:
        """Record the finished attempts, all that have piled up in one transaction, until none."""
        try:
            while self._unrecorded:
                batch, self._unrecorded = self._unrecorded, []
                try:
                    statuses = await self.database.run(
                        _record_committed,
                        outcomes=[(claim, result) for claim, result, _ in batch],
                        now=self.clock(),
                        rng=self.rng,
                        disable_after=timedelta(days=self.settings.hooks_disable_after_days),
                    )
                except Exception as exc:  # the lease runs out; another attempt comes later
                    for _, _, recorded in batch:
                        recorded.set_exception(exc)
                    continue
                for (_, _, recorded), status in zip(batch, statuses, strict=True):
                    recorded.set_result(status)
        finally:
            self._recording = None

    async def send(self, claim: claims.Claim) -> claims.Result:
        """One POST of the delivery: its answer's status, or why there was none."""
        at = self.clock()
        headers = messages.headers(
            webhook_id=claim.event_id,
            body=claim.body,
            at=at,
            signing_secrets=claim.signing_secrets(at),
        )
        started = time.monotonic()
        code = retry_after = error = None
        try:
            async with asyncio.timeout(self.timeout):
                request = self.client.build_request(
                    "POST", claim.url, content=claim.body.encode(), headers=headers
                )
                response = await self.client.send(request, stream=True)
                await response.aclose()  # the answer's body is not read
            code = response.status_code
            retry_after = retry_after_seconds(response.headers.get("retry-after"), now=at)
            if response.is_redirect:
                error = "redirects are not followed"
        except TargetRefusedError as exc:
            error = str(exc)
        except TimeoutError:
            error = f"no answer within {self.timeout:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}".rstrip(": ")
        seconds = time.monotonic() - started
        metrics.ATTEMPT_DURATION.observe(seconds)
        return claims.Result(
            attempted_at=at,
            duration_ms=round(seconds * 1000),
            status_code=code,
            error=error,
            retry_after=retry_after,
        )


def _claim_committed(
    session: Session,
    *,
    now: datetime,
    limit: int,
    per_endpoint: int,
    busy: dict[int, int],
    lease_seconds: float,
) -> list[claims.Claim]:
    claimed = claims.claim(
        session,
        now=now,
        limit=limit,
        per_endpoint=per_endpoint,
        busy=busy,
        lease_seconds=lease_seconds,
    )
    session.commit()
    return claimed


def _record_committed(
    session: Session,
    *,
    outcomes: list[tuple[claims.Claim, claims.Result]],
    now: datetime,
    rng: random.Random,
    disable_after: timedelta,
) -> list[DeliveryStatus]:
    statuses = claims.record(
        session, outcomes=outcomes, now=now, rng=rng, disable_after=disable_after
    )
    session.commit()
    return statuses


def main() -> None:
    """Entry point: dispatch until SIGINT or SIGTERM."""
    settings = HooksSettings()
    # Every attempt is stored with its outcome (`hooks.attempt`): no log line per request.
    logging.getLogger("httpx").setLevel(logging.WARNING)

    def start() -> Work:
        database = Database(settings.database_url, pool_size=settings.db_pool_size)
        metrics.watch_backlog(database)
        return Work(database=database, run=Dispatcher(settings, database=database).run)

    run_worker(service="hooks-dispatcher", settings=settings, start=start)


if __name__ == "__main__":
    main()
