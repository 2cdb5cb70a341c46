"""The webhook bench's receiver: a bare ASGI app under uvicorn (its own process), answering 204
to every POST and recording when each `webhook-id` arrived; `GET /arrivals` hands the records
over (and `DELETE /arrivals` forgets them). Signatures are not verified here: the tests do that
(tests/concurrency/receiver.py); this measures the sender."""

import time
from typing import Any

import orjson

_arrivals: list[tuple[str, float, str | None]] = []  # webhook-id, wall clock, data.hold_id


async def _body(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        chunk: bytes = message.get("body", b"")
        body += chunk
        if not message.get("more_body"):
            return body


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = await _body(receive)
    if scope["method"] == "POST":
        arrived = time.time()
        headers = dict(scope["headers"])
        try:
            hold_id = orjson.loads(body).get("data", {}).get("hold_id")
        except orjson.JSONDecodeError:
            hold_id = None
        _arrivals.append((headers.get(b"webhook-id", b"").decode(), arrived, hold_id))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    if scope["method"] == "DELETE":
        _arrivals.clear()
    payload = orjson.dumps(_arrivals)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": payload})
