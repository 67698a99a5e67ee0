"""Logs service settings, read once from the environment."""

from pydantic import Field

from shared.core.settings import ServiceSettings


class LogsSettings(ServiceSettings):
    """The common settings, and the live stream's (`GET /logs/stream`)."""

    # A comment line on an idle stream this often, so proxies keep it open (the gateway's read
    # timeout for the stream is longer).
    live_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    # Entries a stream may fall behind before it is closed as too slow (the client resumes).
    live_buffer_entries: int = Field(default=1000, ge=1, le=100_000)
    # Entries per read: a resume's backlog, and the process's reads of new entries.
    live_page_size: int = Field(default=500, ge=1, le=10_000)
