"""A small HTTP/1.1 keep-alive load client on raw asyncio streams.

Cheap per request (no HTTP library), so on a 2-core machine the client takes as little CPU
from the server under test as possible. The same client drives every server.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field


@dataclass
class Response:
    status: int
    body: bytes


@dataclass
class LoadResult:
    ok: int = 0
    errors: int = 0
    duration_s: float = 0.0
    error_samples: list[str] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.ok / self.duration_s if self.duration_s > 0 else 0.0


def request_bytes(port: int, path: str, body: bytes, content_type: str = "application/json") -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        "Connection: keep-alive\r\n\r\n"
    )
    return head.encode("latin-1") + body


class Connection:
    """One keep-alive connection that sends prebuilt requests and reads whole responses."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 24)

    async def send(self, raw: bytes) -> Response:
        if self.writer is None or self.reader is None:
            await self.open()
        assert self.writer is not None and self.reader is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = None
        chunked = False
        closing = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
            elif name == "connection" and value.strip().lower() == "close":
                closing = True
        if chunked:
            body = await self._read_chunked()
        elif length is not None:
            body = await self.reader.readexactly(length)
        else:
            body = await self.reader.read()
            closing = True
        if closing:
            await self.close()
        return Response(status, body)

    async def _read_chunked(self) -> bytes:
        assert self.reader is not None
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


async def timed_requests(port: int, raw: bytes, count: int) -> tuple[list[float], Response]:
    """``count`` sequential requests on one connection; per-request seconds and the last reply."""
    conn = Connection(port)
    times: list[float] = []
    last = Response(0, b"")
    try:
        for _ in range(count):
            started = time.perf_counter()
            last = await conn.send(raw)
            times.append(time.perf_counter() - started)
            if last.status != 200:
                raise RuntimeError(f"HTTP {last.status}: {last.body[:300]!r}")
    finally:
        await conn.close()
    return times, last


async def concurrent_load(port: int, raw: bytes, clients: int, duration_s: float) -> LoadResult:
    """``clients`` connections, each sending back to back for ``duration_s`` seconds."""
    result = LoadResult()
    stop_at = time.perf_counter() + duration_s

    async def client() -> None:
        conn = Connection(port)
        try:
            while time.perf_counter() < stop_at:
                try:
                    response = await conn.send(raw)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    result.errors += 1
                    _sample(result, f"{type(exc).__name__}: {exc}")
                    await conn.close()
                    continue
                if response.status == 200:
                    result.ok += 1
                else:
                    result.errors += 1
                    _sample(result, f"HTTP {response.status}: {response.body[:200]!r}")
        finally:
            await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    result.duration_s = time.perf_counter() - started
    return result


def _sample(result: LoadResult, text: str) -> None:
    if len(result.error_samples) < 5:
        result.error_samples.append(text)


async def first_success(port: int, raw: bytes, deadline: float, poll_s: float = 0.02) -> Response:
    """Time-to-first-prediction probe: a new request every ``poll_s`` until one answers 200.

    Probes do not wait for each other, so a slow early answer never delays a later one.
    """
    last: list[str] = [""]

    async def probe() -> Response | None:
        conn = Connection(port)
        try:
            response = await conn.send(raw)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            last[0] = type(exc).__name__
            return None
        finally:
            await conn.close()
        if response.status != 200:
            last[0] = f"HTTP {response.status}: {response.body[:200]!r}"
            return None
        return response

    pending: set[asyncio.Task[Response | None]] = set()
    try:
        while time.monotonic() < deadline:
            pending.add(asyncio.create_task(probe()))
            done, pending = await asyncio.wait(pending, timeout=poll_s, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task.result() is not None:
                    return task.result()  # type: ignore[return-value]
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    raise TimeoutError(f"no successful prediction before the deadline ({last[0]})")
