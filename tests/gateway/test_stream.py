"""The live activity stream through the real nginx: each event reaches the client while the
response is still open (no buffering, no gzip), and an idle stream outlives the heartbeat."""

import re
from pathlib import Path

import httpx

from services.logs.live import HEARTBEAT_SECONDS
from tests.gateway.conftest import STREAM_STEPS
from tests.sse import events

TEMPLATE = Path(__file__).parents[2] / "gateway" / "gateway.conf.template"


def test_an_event_arrives_while_the_stream_is_still_open(gateways: dict[str, str]) -> None:
    for step in STREAM_STEPS:
        step.clear()
    # A read that waits longer than this fails the test: nginx would be holding the event back.
    timeout = httpx.Timeout(10, read=10)
    headers = {"Accept-Encoding": "gzip", "Accept": "text/event-stream"}
    with httpx.Client(timeout=timeout) as client:
        url = f"{gateways['default']}/logs/stream"
        with client.stream("GET", url, headers=headers) as response:
            stream = events(response)
            first = next(stream)  # the stub holds the response open after it
            STREAM_STEPS[0].set()
            second = next(stream)  # sent only now, and the response is still open
            STREAM_STEPS[1].set()
            rest = list(stream)

    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert response.headers["content-type"] == "text/event-stream"
    assert [first.id, second.id, rest] == ["0000000a-1", "0000000a-2", []]


def test_the_streams_read_timeout_is_longer_than_its_heartbeat() -> None:
    location = re.search(r"location = /api/logs/stream \{(.*?)\}", TEMPLATE.read_text(), re.S)
    assert location is not None
    read_timeout = re.search(r"proxy_read_timeout (\d+)s;", location[1])
    assert read_timeout is not None
    assert int(read_timeout[1]) > 2 * HEARTBEAT_SECONDS
    assert "proxy_buffering off;" in location[1]
    assert "gzip off;" in location[1]
