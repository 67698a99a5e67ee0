"""A read model's generations: where a replay rebuilds it, and how its API says one is running.

A replay (`shared/messaging/rebuild.py`) builds the new generation of a consumer's tables in the
shadow schema `<schema>_replay` while the API keeps answering from the live ones, then moves it into
`<schema>` in one transaction. While the shadow's tables exist, every answer of the service carries
`X-Read-Model: replaying`. The API learns it from a flag refreshed in the background
(`REFRESH_SECONDS`) on a connection of its own, so a request pays no query for it.
"""

import asyncio

import structlog
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from shared.core.db import CONNECT_ARGS

logger = structlog.get_logger(__name__)

REPLAY_HEADER = (b"x-read-model", b"replaying")
REFRESH_SECONDS = 1.0
# Every read model has one (the consumers' claims), so its presence in the shadow marks a replay.
MARKER_TABLE = "processed_event"


def shadow_schema(schema: str) -> str:
    """The schema a replay of `schema`'s read model builds its new generation in."""
    return f"{schema}_replay"


class ReplayFlag:
    """Whether a replay of `schema`'s read model is running; `watch` keeps it current."""

    def __init__(self, database_url: str, *, schema: str) -> None:
        self.replaying = False
        self._marker = f"{shadow_schema(schema)}.{MARKER_TABLE}"
        self._engine = create_engine(
            database_url,
            pool_size=1,
            max_overflow=0,
            isolation_level="AUTOCOMMIT",
            connect_args=CONNECT_ARGS,
        )

    def check(self) -> bool:
        """Ask the database now: does the shadow generation exist?"""
        with self._engine.connect() as connection:
            return bool(
                connection.scalar(
                    text("SELECT to_regclass(:name) IS NOT NULL"), {"name": self._marker}
                )
            )

    async def watch(self) -> None:
        """Refresh the flag every `REFRESH_SECONDS` until cancelled; keep the last answer when
        the database does not give one."""
        while True:
            try:
                self.replaying = await asyncio.to_thread(self.check)
            except SQLAlchemyError as exc:
                logger.debug("replay_flag_unknown", error=repr(exc))
            await asyncio.sleep(REFRESH_SECONDS)

    def dispose(self) -> None:
        """Close the flag's connection."""
        self._engine.dispose()
