"""A SAS on loopback (a thread): takes FHIR Appointments as the SAS does (POST /Appointment,
PUT /Appointment?identifier=…), records them, answers what the test tells it; over TLS that
requires a client certificate when given a server context."""

import asyncio
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str
    body: dict[str, Any]
    status: int


# (how many requests came before) -> status to answer
Answer = Callable[[int], int]


@dataclass
class SasReceiver:
    url: str = ""
    answer: Answer = lambda _seen: 201
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, method: str, target: str, content_type: str, body: bytes) -> int:
        with self._lock:
            status = self.answer(len(self.received))
            parts = urlsplit(target)
            self.received.append(
                Received(
                    method,
                    parts.path,
                    parse_qs(parts.query),
                    content_type,
                    json.loads(body),
                    status,
                )
            )
        return status

    async def wait_for(self, count: int, within: float = 10.0) -> list[Received]:
        """The requests received once there are `count` (or all of them after `within` seconds)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            await asyncio.sleep(0.02)
        with self._lock:
            return list(self.received)


@contextmanager
def running_sas(tls: ssl.SSLContext | None = None) -> Iterator[SasReceiver]:
    receiver = SasReceiver()

    class Handler(BaseHTTPRequestHandler):
        def _take(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            status = receiver.handle(
                self.command, self.path, self.headers.get("content-type", ""), body
            )
            self.send_response(status)
            self.send_header("content-type", "application/fhir+json")
            answer = b'{"resourceType": "Appointment", "id": "1", "status": "booked"}'
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_POST = _take  # noqa: N815 (http.server's names)
        do_PUT = _take  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "https" if tls is not None else "http"
    receiver.url = f"{scheme}://localhost:{server.server_address[1]}/sas/fhir"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
