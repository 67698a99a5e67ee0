"""The live stream's cursor, and its events as they go on the wire.

A cursor is `<generation>-<id>`: the id of the last entry the client got (ids are commit order,
`services/logs/ordering.py`) and the generation of the table it came from, 8 hex digits that
differ per PostgreSQL cluster and per table (a replay's rebuilt table is a new generation).
"""

import json
import re
from typing import Any

from fastapi.sse import format_sse_event

from services.logs.schemas import LogEntryRead

_CURSOR = re.compile(r"([0-9a-f]{8})-([0-9]{1,18})")


def cursor_of(generation: str, entry_id: int) -> str:
    """The cursor after entry `entry_id`."""
    return f"{generation}-{entry_id}"


def parse(value: str) -> tuple[str, int] | None:
    """A cursor's generation and entry id; `None` when it is not a cursor."""
    match = _CURSOR.fullmatch(value.strip())
    return None if match is None else (match[1], int(match[2]))


def activity_frame(generation: str, row: dict[str, Any]) -> bytes:
    """An entry's event: `event: activity`, the entry as `GET /logs/` has it, `id:` its cursor."""
    return format_sse_event(
        event="activity",
        data_str=LogEntryRead.model_validate(row).model_dump_json(),
        id=cursor_of(generation, row["id"]),
    )


def reset_frame(reason: str) -> bytes:
    """The event that tells the client its cursor is of no use: refetch, then stream anew."""
    message = "This cursor cannot be resumed from: reload the list, then open a new stream."
    return format_sse_event(
        event="reset", data_str=json.dumps({"code": reason, "message": message})
    )
