"""Refuse oversized bodies before any work (413 problem+json), whatever the endpoint."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import problem_response


class BodySizeLimit:
    """Pure ASGI middleware: checks Content-Length, then counts streamed bytes.

    A streamed (chunked) body is cut off where it crosses the limit. The endpoint sees that as a
    broken body and FastAPI turns it into its own 400, so whatever the app answers after the cut
    is dropped and the client gets the 413 instead.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        cut_off = False
        answered = False

        async def limited_receive() -> Message:
            nonlocal received, cut_off
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    cut_off = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            if cut_off:
                return  # the app's answer to a body it never fully got
            answered = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not cut_off:
                raise
        if cut_off and not answered:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            "payload-too-large",
            "Payload too large",
            f"the request body exceeds {self.max_bytes} bytes; send smaller batches",
            instance=scope.get("path"),
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass
