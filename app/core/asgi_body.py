"""A request body read whole from the ASGI channel, and given again to the app behind."""

from starlette.types import Message, Receive


async def read_body(receive: Receive) -> bytes:
    """Every chunk of the body (what arrived before a disconnect, if one came first)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A channel that gives `body` once, then the real one (a disconnect is still seen)."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
