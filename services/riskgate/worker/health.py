"""Plain HTTP probes for an orchestrator: /health, /ready and /metrics (Prometheus text)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

_REASONS = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}


class HealthServer:
    """A tiny HTTP/1.0 server; ``readiness`` and ``alive`` are read on every probe.

    ``readiness`` returns the body of /ready: ``{"ready": bool, ...}`` with whatever explains it
    (the halted and stuck partitions); the status is 200 when ready, else 503."""

    def __init__(self, port: int, readiness: Callable[[], dict[str, Any]],
                 alive: Callable[[], bool]) -> None:
        self._port = port
        self._readiness = readiness
        self._alive = alive
        self._server: asyncio.AbstractServer | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "0.0.0.0", self._port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), timeout=5)
            parts = line.decode("latin-1").split()
            path = parts[1] if len(parts) > 1 else "/"
            status, ctype, body = self._route(path)
            head = (f"HTTP/1.0 {status} {_REASONS[status]}\r\nContent-Type: {ctype}\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    def _route(self, path: str) -> tuple[int, str, bytes]:
        if path.startswith("/health"):
            ok = self._alive()
            return (200 if ok else 503), "application/json", b'{"alive":%s}' % (b"true" if ok else b"false")
        if path.startswith("/ready"):
            body = self._readiness()
            return (200 if body["ready"] else 503), "application/json", json.dumps(body).encode()
        if path.startswith("/metrics"):
            return 200, CONTENT_TYPE_LATEST, generate_latest()
        return 404, "text/plain", b"not found"
