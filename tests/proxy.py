"""A TCP proxy the tests can cut, to take a broker or database away from one client only.

Given several targets it is a front such as a Kubernetes Service: each new connection goes to
the first target that accepts it, in the order given.
"""

import asyncio
import contextlib


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target (the first of `others` that answers, when it does
    not); `cut()` drops all connections, refuses new ones."""

    def __init__(self, target_host: str, target_port: int, *others: tuple[str, int]) -> None:
        self.targets = [(target_host, target_port), *others]
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for target in self.targets:
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection(*target)
                break
            except OSError:
                continue
        else:
            writer.transport.abort()
            return
        self._writers.update({writer, upstream_writer})
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
        self._writers.discard(writer)
