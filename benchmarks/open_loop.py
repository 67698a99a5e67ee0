"""An open-loop task writer: POSTs on a fixed schedule, whatever the answers, and for some of the
tasks the time from their 201 until their entry shows in `GET /api/logs/?task_id=`.

Open loop: write number i leaves at start + i / rate, on a connection of its own if need be
(up to CONNECTIONS), so a slow answer delays no later write (a closed loop would slow down
with the system and hide its queueing). A polled task is asked for every 2 ms; past 40 ms of
waiting, every twentieth of the time waited so far, so a slow system is not flooded with polls
(the delay is then known within 5%). The delay ends at the answer that showed the entry.
"""

import asyncio
import time
from dataclasses import dataclass, field

import httpx

POLL_SECONDS = 0.002
POLL_SHARE = 20  # past POLL_SECONDS x POLL_SHARE, poll every (time waited / POLL_SHARE)
VISIBLE_SECONDS = 10.0  # a polled task not visible by then counts as invisible
CONNECTIONS = 200


@dataclass
class Writes:
    """What the writer saw (times from the event loop's clock, in seconds)."""

    delays_ms: list[float] = field(default_factory=list)  # 201 -> entry shown, polled tasks
    late_ms: list[float] = field(default_factory=list)  # how late each write left its schedule
    created: int = 0
    failed: int = 0  # not a 201, or no answer
    invisible: int = 0  # polled, and not shown within VISIBLE_SECONDS
    started: float = 0.0
    last_created: float = 0.0
    seconds: float = 0.0  # the whole run, the last polls included
    cpu_seconds: float = 0.0  # the writer's own CPU time: near `seconds`, it was the bottleneck

    @property
    def rate(self) -> float:
        """Achieved writes per second: 201s over the time from the first send to the last 201."""
        seconds = self.last_created - self.started
        return self.created / seconds if seconds > 0 else 0.0


async def write(
    api: str, token: str, *, rate: float, seconds: float, poll_every: int, warm_task_id: int
) -> Writes:
    """`rate` task writes a second for `seconds`; every `poll_every`-th task is polled."""
    writes = Writes()
    loop = asyncio.get_running_loop()
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    headers = {"Authorization": f"Bearer {token}"}
    cpu, wall = time.process_time(), time.perf_counter()
    async with httpx.AsyncClient(
        base_url=api, headers=headers, limits=limits, timeout=VISIBLE_SECONDS
    ) as client:
        (await client.get("/logs/", params={"task_id": warm_task_id})).raise_for_status()
        writes.started = loop.time() + 0.1
        async with asyncio.TaskGroup() as group:
            for index in range(round(rate * seconds)):
                scheduled = writes.started + index / rate
                await asyncio.sleep(scheduled - loop.time())
                polled = index % poll_every == 0
                group.create_task(_write(client, writes, scheduled=scheduled, polled=polled))
    writes.cpu_seconds = time.process_time() - cpu
    writes.seconds = time.perf_counter() - wall
    return writes


async def _write(
    client: httpx.AsyncClient, writes: Writes, *, scheduled: float, polled: bool
) -> None:
    loop = asyncio.get_running_loop()
    writes.late_ms.append((loop.time() - scheduled) * 1000)
    try:
        response = await client.post("/tasks/", json={"title": "Event path task"})
    except httpx.HTTPError:
        writes.failed += 1
        return
    created = loop.time()
    if response.status_code != 201:
        writes.failed += 1
        return
    writes.created += 1
    writes.last_created = max(writes.last_created, created)
    if polled:
        await _until_visible(client, writes, task_id=int(response.json()["id"]), created=created)


async def _until_visible(
    client: httpx.AsyncClient, writes: Writes, *, task_id: int, created: float
) -> None:
    loop = asyncio.get_running_loop()
    while (waited := loop.time() - created) < VISIBLE_SECONDS:
        try:
            found = await client.get("/logs/", params={"task_id": task_id})
            if found.status_code == 200 and found.json()["items"]:
                writes.delays_ms.append((loop.time() - created) * 1000)
                return
        except httpx.HTTPError:
            pass  # asked again below, until VISIBLE_SECONDS
        await asyncio.sleep(max(POLL_SECONDS, waited / POLL_SHARE))
    writes.invisible += 1
