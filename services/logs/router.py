"""Thin HTTP endpoints of the logs service: parse, call one service function, answer."""

from typing import Annotated

import jwt
from fastapi import APIRouter, Header, Query, Response

from services.logs import live, service
from services.logs.deps import HubDep, LogFiltersDep, StreamFiltersDep
from services.logs.schemas import LogEntryRead
from services.logs.streaming import DetachedStream
from shared.core.db import DatabaseDep
from shared.web.pagination import Page, PageDep
from shared.web.security import CurrentUser

router = APIRouter(prefix="/logs", tags=["logs"])

_LIST_DESCRIPTION = (
    "Activity-log entries, newest first. `year` and `month` select the month (UTC) in which"
    " the entries happened; neither means the current month, except with `task_id` alone:"
    " then the task's whole history."
)
_STREAM_DESCRIPTION = (
    "Activity-log entries as Server-Sent Events, in commit order, as they are committed:"
    " `event: activity`, `data:` the entry as `GET /logs/` has it, `id:` its cursor. A client"
    " that reconnects with the last cursor it got (`Last-Event-ID`, or `after` on a first"
    " request) first gets every entry committed after it, then the live ones; a cursor that"
    " cannot be resumed from gets `event: reset` (reload, then stream without a cursor)."
    " A comment line every 15 s keeps an idle stream open; the stream ends when the access"
    " token expires. See docs/live-activity.md."
)
_STREAM_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "The event stream.",
        # Each event of the stream, as an SSE parser hands it over (`data` is JSON text: the
        # entry for `activity`, `{code, message}` for `reset`).
        "content": {
            "text/event-stream": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "event": {"type": "string", "enum": ["activity", "reset"]},
                        "data": {"type": "string"},
                        "id": {"type": "string"},
                    },
                    "required": ["event", "data"],
                }
            }
        },
    }
}


@router.get(
    "/", operation_id="logs_list", response_model=Page[LogEntryRead], description=_LIST_DESCRIPTION
)
async def list_logs(
    _: CurrentUser, database: DatabaseDep, filters: LogFiltersDep, page: PageDep
) -> Page[LogEntryRead]:
    """Log entries, newest first: of a month, or of one task's whole history."""
    return await database.read(service.list_entries, filters=filters, params=page)


@router.get(
    "/stream",
    operation_id="logs_stream",
    response_class=Response,  # a DetachedStream, made here (see `services/logs/streaming.py`)
    responses=_STREAM_RESPONSES,
    description=_STREAM_DESCRIPTION,
)
async def stream_logs(
    user: CurrentUser,
    database: DatabaseDep,
    hub: HubDep,
    filters: StreamFiltersDep,
    last_event_id: Annotated[str | None, Header(max_length=64)] = None,
    after: Annotated[
        str | None, Query(max_length=64, description="A cursor, when no Last-Event-ID is sent.")
    ] = None,
) -> DetachedStream:
    """The activity log, live, resumable from a cursor."""
    # The token was verified; its `exp` says when the stream ends.
    claims = jwt.decode(user.token, options={"verify_signature": False})
    stream = live.StreamRequest(
        filters=filters,
        resume_from=last_event_id if last_event_id is not None else after,
        expires_at=float(claims["exp"]),
    )
    opened = await live.open_stream(hub, database, stream, heartbeat=live.HEARTBEAT_SECONDS)
    return DetachedStream(
        opened.chunks,
        on_disconnect=opened.end,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
