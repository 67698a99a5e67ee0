import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from shared.messaging.heartbeat import beat, is_fresh


def test_a_beating_process_is_fresh_until_it_stops(tmp_path: Path) -> None:
    file = tmp_path / "run" / "heartbeat"

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(beat(file, stop, interval=0.05))
        await asyncio.sleep(0.2)  # a few beats
        stop.set()
        await task

    asyncio.run(scenario())

    assert is_fresh(file, 5)


def test_an_old_or_missing_heartbeat_is_not_fresh(tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.touch()
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))

    assert not is_fresh(old, 60)
    assert not is_fresh(tmp_path / "missing", 60)


def test_the_probe_command_exits_by_freshness(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    fresh.touch()

    def probe(path: Path) -> int:
        command = [sys.executable, "-m", "shared.messaging.heartbeat", str(path), "60"]
        return subprocess.run(command, check=False).returncode

    assert probe(fresh) == 0
    assert probe(tmp_path / "missing") == 1
