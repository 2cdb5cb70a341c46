"""A watch's event stream: `slot` events as the hub finds them, `heartbeat`s carrying the
position reached (so a resume starts there), and one `end` event at expiry or deletion."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from sse_starlette import ServerSentEvent

from app.core.pagination import encode_bigint_pair_cursor
from app.schemas.watch import WatchEnd
from app.services.watches.hub import Ending, Listener, WatchHub


def _data(value: Any) -> str:
    return orjson.dumps(value).decode()


def heartbeat_of(
    listener: Listener, position: list[tuple[int, int]]
) -> Callable[[], ServerSentEvent]:
    """The heartbeat factory of a stream: its id is the position whose events were all sent."""

    def heartbeat() -> ServerSentEvent:
        return ServerSentEvent(
            event="heartbeat",
            id=encode_bigint_pair_cursor(*position[0]),
            data=_data({"watch_id": str(listener.watch_id), "at": datetime.now(UTC).isoformat()}),
        )

    return heartbeat


async def watch_stream(
    hub: WatchHub,
    listener: Listener,
    expires_at: datetime,
    held_event: dict[str, Any] | None,
    position: list[tuple[int, int]],
) -> AsyncIterator[ServerSentEvent]:
    """The events of `listener`'s watch until it expires or is deleted (or the process stops).

    `position[0]` follows the last position whose events were all yielded (the heartbeats'
    id); `held_event`, the event of the watch's hold, is yielded first on a resume before it.
    """
    hub.register(listener)
    ending: Ending = "expired"
    try:
        if held_event is not None:
            yield ServerSentEvent(event="slot", id=held_event["id"], data=_data(held_event["data"]))
        while True:
            left = (expires_at - datetime.now(UTC)).total_seconds()
            if left <= 0:
                break
            item: Any = None
            with contextlib.suppress(TimeoutError):
                item = await asyncio.wait_for(listener.queue.get(), left)
            if item is None:
                continue
            kind, value = item
            if kind == "event":
                yield ServerSentEvent(event="slot", id=value.id, data=value.data.model_dump_json())
            elif kind == "reached":
                position[0] = value
            else:
                ending = value
                break
        yield ServerSentEvent(
            event="end",
            data=WatchEnd(watch_id=listener.watch_id, reason=ending).model_dump_json(),
        )
    finally:
        hub.unregister(listener)
