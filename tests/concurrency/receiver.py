"""A webhook receiver on loopback (a thread): records every request and verifies its signature
with the `standardwebhooks` verifier, answering what the test tells it to."""

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

# (webhook-id, how many times this id came before) -> (status, extra headers)
Answer = Callable[[str, int], tuple[int, dict[str, str]]]


@dataclass(frozen=True)
class Received:
    webhook_id: str
    event: dict[str, Any]
    verified: bool
    status: int
    started: float
    finished: float
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Receiver:
    url: str
    secret: str = ""
    answer: Answer = lambda _id, _seen: (200, {})
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    overlaps: list[str] = field(default_factory=list)
    _in_flight: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        started = time.monotonic()
        webhook_id = headers.get("webhook-id", "")
        with self._lock:
            if webhook_id in self._in_flight:
                self.overlaps.append(webhook_id)
            self._in_flight.add(webhook_id)
            seen = sum(1 for r in self.received if r.webhook_id == webhook_id)
        try:
            Webhook(self.secret).verify(body, headers)
            verified = True
        except WebhookVerificationError:
            verified = False
        time.sleep(self.delay)
        status, extra = self.answer(webhook_id, seen)
        with self._lock:
            self._in_flight.discard(webhook_id)
            self.received.append(
                Received(
                    webhook_id,
                    json.loads(body),
                    verified,
                    status,
                    started,
                    time.monotonic(),
                    body,
                    headers,
                )
            )
        return status, extra

    def delivered(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if 200 <= r.status < 300]

    def wait_for(self, predicate: Callable[["Receiver"], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.02)
        return predicate(self)


class _Server(ThreadingHTTPServer):
    # A worker sends a batch of up to 100 deliveries at once: socketserver's default backlog of
    # 5 would reset most of their connections (a ReadError on the sender's side).
    request_queue_size = 256


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra = receiver.handle(headers, body)
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
