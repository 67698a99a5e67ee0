"""A response sent after its request's layers have returned: the live stream's
(`services/logs/live.py`).

A stream stays open for hours, and what a response holds while it is sent stays in memory.
Under FastAPI every layer of a request (the middleware, the routing and its exit stacks,
Starlette's streaming response and its task group) waits in a suspended frame until the
response ends: about 30 KiB a stream. Here the route answers as any route does (auth,
validation, errors; the response's start goes through the middleware, which adds its headers
and logs the request), and its response (`DetachedStream`) then asks to be *detached*: the
outermost layer (`Detacher`) sends the rest of the body itself, once every inner layer has
returned. An open stream then holds the server's connection, its own state, and one task
that notices when the client goes away.
"""

import asyncio
from collections.abc import AsyncGenerator, Callable, Mapping

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# An ASGI message of ours: the response to send once the request's layers have returned.
DETACH = "efficient.response.detach"


class Detacher:
    """The outermost middleware: sends a detached response's body after the app returns."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detached = await self._run(scope, receive, send)
        if detached is not None:  # only the stream's own state is held from here on
            await detached.send_body(receive, send)

    async def _run(self, scope: Scope, receive: Receive, send: Send) -> "DetachedStream | None":
        """Run the app; the response it detached, if any, once its layers have returned."""
        detached: list[DetachedStream] = []
        given = set(scope)

        async def send_or_detach(message: Message) -> None:
            if message["type"] == DETACH:
                detached.append(message["response"])
            else:
                await send(message)

        try:
            await self.app(scope, receive, send_or_detach)
        except BaseException:
            for response in detached:  # a layer failed after the route answered
                response.abandon()
            raise
        if not detached:
            return None
        # What the inner layers left in the scope (FastAPI's closed exit stacks, the route)
        # would stay as long as the stream: nothing reads it from here on.
        for key in scope.keys() - given:
            del scope[key]
        return detached[0]


class DetachedStream(Response):
    """`text/event-stream` from `chunks`; `on_disconnect` is called when the client goes away
    (it must make `chunks` end). Only under a `Detacher`."""

    media_type = "text/event-stream"

    def __init__(
        self,
        chunks: AsyncGenerator[bytes, None],
        *,
        on_disconnect: Callable[[], None],
        headers: Mapping[str, str],
    ) -> None:
        self.status_code = 200
        self.background = None
        self.init_headers(headers)  # no body: no content-length, so the body is chunked
        self._chunks = chunks
        self._on_disconnect = on_disconnect

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await send({"type": DETACH, "response": self})

    async def send_body(self, receive: Receive, send: Send) -> None:
        """The body, chunk by chunk, until `chunks` ends (also when the client has gone)."""
        watching = asyncio.create_task(_until_disconnected(receive))
        watching.add_done_callback(self._watched)
        try:
            async for chunk in self._chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watching.cancel()
            await self._chunks.aclose()  # its own cleanup now, not when it is collected

    def abandon(self) -> None:
        """It will not be sent: what it would have sent ends."""
        self._on_disconnect()

    def _watched(self, watching: "asyncio.Task[None]") -> None:
        if watching.cancelled():  # the stream ended first
            return
        watching.exception()  # retrieved: a failed receive, too, means the client is gone
        self._on_disconnect()


async def _until_disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
