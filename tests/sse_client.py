"""A minimal reader of a text/event-stream over httpx, for the watch tests and the bench."""

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson


@dataclass(frozen=True)
class Sse:
    event: str
    id: str | None
    data: str

    def json(self) -> Any:
        return orjson.loads(self.data)


class EventStream:
    """Reads one stream in the background; `next()` the events as they come, `closed` at its end."""

    def __init__(self, client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
        self._client, self._url, self._headers = client, url, headers
        self._events: asyncio.Queue[Sse | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.status_code: int | None = None
        self.content_type: str | None = None
        self.closed = asyncio.Event()
        self._opened = asyncio.Event()

    async def __aenter__(self) -> "EventStream":
        self._task = asyncio.create_task(self._read())
        await asyncio.wait_for(self._opened.wait(), 30)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await self._task

    async def _read(self) -> None:
        try:
            async with self._client.stream("GET", self._url, headers=self._headers) as answer:
                self.status_code = answer.status_code
                self.content_type = answer.headers.get("content-type")
                self._opened.set()
                if answer.status_code != 200:
                    await answer.aread()
                    return
                fields: dict[str, str] = {}
                data: list[str] = []
                async for line in answer.aiter_lines():
                    if line == "":
                        if data or fields:
                            self._events.put_nowait(
                                Sse(
                                    fields.get("event", "message"),
                                    fields.get("id"),
                                    "\n".join(data),
                                )
                            )
                        fields, data = {}, []
                        continue
                    if line.startswith(":"):
                        continue
                    name, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if name == "data":
                        data.append(value)
                    else:
                        fields[name] = value
        finally:
            self._opened.set()
            self.closed.set()
            self._events.put_nowait(None)

    async def next(self, within: float = 10, *, skip_heartbeats: bool = True) -> Sse | None:
        """The next event (None once the stream has ended); TimeoutError after `within` s."""
        deadline = time.monotonic() + within
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            event = await asyncio.wait_for(self._events.get(), left)
            if event is None:
                self._events.put_nowait(None)
                return None
            if skip_heartbeats and event.event == "heartbeat":
                continue
            return event
