"""The live stream's metrics (`GET /logs/stream`). Their names are a contract: dashboards and
alerts read them.

    efficient_live_streams_open                        gauge: streams open in this process
    efficient_live_events_sent_total                   counter: `activity` events written to streams
    efficient_live_resumes_total                       counter: streams begun from a cursor
    efficient_live_resets_total{reason}                counter: `reset` events (cursor_unknown,
                                                       generation_changed)
    efficient_live_streams_closed_total{reason}        counter: streams the server ended (slow,
                                                       token_expired, shutdown)
"""

from prometheus_client import Counter, Gauge

from shared.core import metrics as _serving  # noqa: F401  (no `*_created` series, as everywhere)

STREAMS_OPEN = Gauge("efficient_live_streams_open", "Live activity streams open in this process.")
EVENTS_SENT = Counter("efficient_live_events_sent", "Activity events written to live streams.")
RESUMES = Counter("efficient_live_resumes", "Live streams begun from a cursor (Last-Event-ID).")
RESETS = Counter(
    "efficient_live_resets",
    "Reset events sent: the client's cursor cannot be resumed from; it refetches.",
    ["reason"],
)
CLOSED = Counter(
    "efficient_live_streams_closed",
    "Live streams the server ended: slow (buffer full), token_expired, or shutdown.",
    ["reason"],
)
