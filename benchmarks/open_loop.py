"""An open-loop task writer: POSTs on a fixed schedule, whatever the answers, and for some of the
tasks the time from their 201 until their entry shows in `GET /api/logs/?task_id=`.

Open loop: write number i leaves at start + i / rate, on a connection of its own if need be
(up to CONNECTIONS), so a slow answer delays no later write (a closed loop would slow down
with the system and hide its queueing). A polled task is asked for every 2 ms; past 40 ms of
waiting, every twentieth of the time waited so far, so a slow system is not flooded with polls
(the delay is then known within 5%). The delay ends at the answer that showed the entry.
aiohttp, not httpx: on the development machines httpx used several times the CPU and left its
schedule by seconds at 200 writes/s.
"""

import asyncio
import math
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp

POLL_SECONDS = 0.002
POLL_SHARE = 20  # past POLL_SECONDS x POLL_SHARE, poll every (time waited / POLL_SHARE)
VISIBLE_SECONDS = 10.0  # a polled task not visible by then counts as invisible
CONNECTIONS = 1000


@dataclass
class Writes:
    """What the writer saw (times from the event loop's clock, in seconds)."""

    delays_ms: list[float] = field(default_factory=list)  # 201 -> entry shown, polled tasks
    late_ms: list[float] = field(default_factory=list)  # how late each write left its schedule
    created: int = 0
    failures: Counter[str] = field(default_factory=Counter)  # not a 201: the status, or why
    invisible: int = 0  # polled, and not shown within VISIBLE_SECONDS
    first_created: float = math.inf
    last_created: float = 0.0
    seconds: float = 0.0  # the whole run, the last polls included
    cpu_seconds: float = 0.0  # the writer's own CPU time: near `seconds`, it was the bottleneck

    @property
    def failed(self) -> int:
        """Writes that got no 201."""
        return self.failures.total()

    @property
    def rate(self) -> float:
        """Achieved writes per second: 201s over the time from the first 201 to the last."""
        seconds = self.last_created - self.first_created
        return (self.created - 1) / seconds if seconds > 0 else 0.0


async def write(
    api: str, token: str, *, rate: float, seconds: float, poll_every: int, warm_task_id: int
) -> Writes:
    """`rate` task writes a second for `seconds`; every `poll_every`-th task is polled."""
    writes = Writes()
    loop = asyncio.get_running_loop()
    cpu, wall = time.process_time(), time.perf_counter()
    async with aiohttp.ClientSession(
        api.rstrip("/") + "/",
        headers={"Authorization": f"Bearer {token}"},
        connector=aiohttp.TCPConnector(limit=CONNECTIONS),
        timeout=aiohttp.ClientTimeout(total=VISIBLE_SECONDS),
    ) as client:
        async with client.get("logs/", params={"task_id": warm_task_id}) as warm:
            warm.raise_for_status()
        started = loop.time() + 0.1
        async with asyncio.TaskGroup() as group:
            for index in range(round(rate * seconds)):
                scheduled = started + index / rate
                await asyncio.sleep(scheduled - loop.time())
                polled = index % poll_every == 0
                group.create_task(_write(client, writes, scheduled=scheduled, polled=polled))
    writes.cpu_seconds = time.process_time() - cpu
    writes.seconds = time.perf_counter() - wall
    return writes


async def _write(
    client: aiohttp.ClientSession, writes: Writes, *, scheduled: float, polled: bool
) -> None:
    loop = asyncio.get_running_loop()
    writes.late_ms.append((loop.time() - scheduled) * 1000)
    try:
        async with client.post("tasks/", json={"title": "Event path task"}) as response:
            created = loop.time()
            if response.status != 201:
                writes.failures[str(response.status)] += 1
                return
            task = await response.json()
    except (aiohttp.ClientError, TimeoutError) as exc:
        writes.failures[type(exc).__name__] += 1
        return
    writes.created += 1
    writes.first_created = min(writes.first_created, created)
    writes.last_created = max(writes.last_created, created)
    if polled:
        await _until_visible(client, writes, task_id=int(task["id"]), created=created)


async def _until_visible(
    client: aiohttp.ClientSession, writes: Writes, *, task_id: int, created: float
) -> None:
    loop = asyncio.get_running_loop()
    while (waited := loop.time() - created) < VISIBLE_SECONDS:
        try:
            async with client.get("logs/", params={"task_id": task_id}) as found:
                if found.status == 200 and (await found.json())["items"]:
                    writes.delays_ms.append((loop.time() - created) * 1000)
                    return
        except (aiohttp.ClientError, TimeoutError):
            pass  # asked again below, until VISIBLE_SECONDS
        await asyncio.sleep(max(POLL_SECONDS, waited / POLL_SHARE))
    writes.invisible += 1
