"""A small HTTP/1.1 client on asyncio streams for the dispatch load test.

One connection per simulated expert, kept alive when the server allows it (gunicorn's sync
workers close after every response; gthread workers keep it). No third-party dependency and
little CPU per request, so the load generator leaves the cores to gunicorn and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

TIMEOUT_SECONDS = 30.0


@dataclass
class Reply:
    status: int
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class HttpConnection:
    """A keep-alive connection to ``host:port`` that reconnects when the server closed it."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.fixed = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.connects = 0

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.connects += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def post(self, path: str, payload: Any = None) -> Reply:
        """POST ``payload`` as JSON; the time covers connecting (when needed), sending and
        reading the whole response, i.e. what the expert's browser would wait for."""
        body = b"" if payload is None else json.dumps(payload).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self.fixed}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        start = time.perf_counter()
        reused = self.writer is not None
        try:
            status, data = await asyncio.wait_for(self._exchange(head + body), TIMEOUT_SECONDS)
        except (asyncio.IncompleteReadError, ConnectionError) as error:
            self.close()
            if not reused:
                raise
            # The server closed an idle keep-alive connection as we sent: send again (the
            # endpoints are idempotent: a repeated next or submit answers the same).
            del error
            status, data = await asyncio.wait_for(self._exchange(head + body), TIMEOUT_SECONDS)
        except BaseException:
            self.close()
            raise
        return Reply(status, data, time.perf_counter() - start)

    async def _exchange(self, request: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self._open()
        assert self.reader is not None
        assert self.writer is not None
        self.writer.write(request)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        version, code = lines[0].split(" ", 2)[:2]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        status = int(code)
        if headers.get("transfer-encoding", "").lower() == "chunked":
            data = await self._chunked()
        elif "content-length" in headers:
            data = await self.reader.readexactly(int(headers["content-length"]))
        elif status in (204, 304) or 100 <= status < 200:
            data = b""
        else:  # delimited by the end of the connection
            data = await self.reader.read()
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close" or version == "HTTP/1.0":
            self.close()
        return status, data

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)
