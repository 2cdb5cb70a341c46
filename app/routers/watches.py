"""Watches of a search (issue 17): create, stream the slots that open, delete."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response, status
from pydantic import BaseModel
from sse_starlette import EventSourceResponse

from app.core.auth import RegulatorDep
from app.core.crypto import CipherDep
from app.core.db import SessionDep
from app.core.openapi import problems
from app.core.pagination import decode_bigint_pair_cursor
from app.schemas.watch import WatchCreate, WatchEnd, WatchEvent, WatchOut
from app.services.watches import store
from app.services.watches.hub import Listener, WatchHub
from app.services.watches.nearby import vicinity_of
from app.services.watches.stream import heartbeat_of, watch_stream

router = APIRouter(prefix="/v1/watches", tags=["dispatch"])

_STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "`text/event-stream` (Server-Sent Events). `event: slot`, `data`: a WatchEvent "
            "(JSON), `id`: its position (send it back as `Last-Event-ID` to resume after it); "
            "`event: heartbeat` every WATCH_HEARTBEAT_SECONDS (15 s), its `id` the position "
            "reached; `event: end` (a WatchEnd) last, at expiry or deletion."
        ),
        "content": {
            "text/event-stream": {
                "schema": {"type": "string"},
                "example": 'event: slot\nid: WyIxMjM0IiwgNV0\ndata: {"watch_id": "…", '
                '"status": "open", "candidate": {…}, "hold": null}\n\n',
            }
        },
    }
}


def _out(request: Request, watch: store.StoredWatch) -> WatchOut:
    return WatchOut(
        id=watch.id,
        created_at=watch.created_at,
        expires_at=watch.expires_at,
        hold=watch.hold,
        events_url=str(request.url_for("watch_events", watch_id=watch.id).path),
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WatchOut,
    responses=problems(429),
)
async def create_watch(
    request: Request,
    body: WatchCreate,
    regulator: RegulatorDep,
    session: SessionDep,
    cipher: CipherDep,
) -> WatchOut:
    """Watch a search for `lifetime_seconds`: its stream tells each slot that opens and that
    the search now returns (with `hold`, the first one is held for you). At most
    WATCH_MAX_OPEN_PER_REGULATOR open watches (429 beyond)."""
    settings = request.app.state.settings
    # Refuse at once what the stream could not search (a commune without centroid, a window
    # already over).
    vicinity = await vicinity_of(session, regulator, body.search(), settings.api_key_cache_seconds)
    vicinity.check_window()
    watch = await store.create_watch(
        session, regulator, body, cipher, settings.watch_max_open_per_regulator
    )
    return _out(request, watch)


@router.get(
    "/{watch_id}/events",
    response_class=EventSourceResponse,
    responses={**_STREAM_DOC, **problems(410)},
    openapi_extra={
        "x-event-schemas": {
            "slot": {"$ref": "#/components/schemas/WatchEvent"},
            "end": {"$ref": "#/components/schemas/WatchEnd"},
        }
    },
)
async def watch_events(
    watch_id: uuid.UUID,
    request: Request,
    regulator: RegulatorDep,
    session: SessionDep,
    cipher: CipherDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> EventSourceResponse:
    """The watch's events (`text/event-stream`) until it expires or is deleted; resume with
    `Last-Event-ID` to receive, without loss, the slots opened since that event."""
    settings = request.app.state.settings
    watch = await store.read_watch(session, regulator, watch_id, cipher)
    start = (watch.start_txid, 0)
    after = start
    if last_event_id:
        after = max(start, decode_bigint_pair_cursor(last_event_id, "header.Last-Event-ID"))
    vicinity = await vicinity_of(session, regulator, watch.query, settings.api_key_cache_seconds)
    hub: WatchHub = request.app.state.watch_hub
    listener = Listener(watch.id, regulator, vicinity, watch.hold and not watch.held_event, after)
    held = watch.held_event
    if held is not None and decode_bigint_pair_cursor(str(held["id"])) <= after:
        held = None  # sent before the position resumed from
    position = [after]
    return EventSourceResponse(
        watch_stream(hub, listener, watch.expires_at, held, position),
        ping=settings.watch_heartbeat_seconds,
        ping_message_factory=heartbeat_of(listener, position),
        headers={"Cache-Control": "no-store"},
    )


@router.delete("/{watch_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_watch(
    watch_id: uuid.UUID, regulator: RegulatorDep, session: SessionDep
) -> Response:
    """Stop the watch: its open streams end (with an `end` event), wherever they are served."""
    await store.delete_watch(session, regulator, watch_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# Documented for the stream's readers (its `data` shapes).
EVENT_SCHEMAS: dict[str, type[BaseModel]] = {"WatchEvent": WatchEvent, "WatchEnd": WatchEnd}
