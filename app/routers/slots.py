"""Slot intake for practice software: batch push, sync of a window, list and withdraw."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request, Response, status

from app.core.auth import PracticeSoftwareDep, Principal
from app.core.db import SessionDep
from app.core.openapi import problems
from app.routers.idempotent import IdempotencyKey, idempotent
from app.routers.params import Cursor, Limit
from app.schemas.common import Page
from app.schemas.identifiers import Rpps
from app.schemas.slot import (
    ExternalId,
    OffsetDatetime,
    SlotBatch,
    SlotOut,
    SlotPushAnswer,
    SlotStatus,
    SlotSync,
    SlotSyncAnswer,
)
from app.services.slots import agenda as slots

router = APIRouter(prefix="/v1/slots", tags=["slots"])


@router.put("", response_model=SlotPushAnswer)
async def push_slots(
    body: SlotBatch,
    request: Request,
    session: SessionDep,
    software: PracticeSoftwareDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Upsert up to 5,000 slots by `external_id`; one result per item, in the body's order."""

    async def produce() -> dict[str, Any]:
        return await slots.push_slots(session, software, body.slots)

    return await _write(request, session, software, idempotency_key, body, produce)


@router.post("/sync", response_model=SlotSyncAnswer)
async def sync_slots(
    body: SlotSync,
    request: Request,
    session: SessionDep,
    software: PracticeSoftwareDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Like PUT, and cancel this client's free slots in the window that the body omits."""

    async def produce() -> dict[str, Any]:
        return await slots.sync_slots(
            session, software, body.slots, body.window.start, body.window.end
        )

    return await _write(request, session, software, idempotency_key, body, produce)


@router.get("")
async def list_slots(
    session: SessionDep,
    software: PracticeSoftwareDep,
    limit: Limit = 100,
    cursor: Cursor = None,
    status: SlotStatus | None = None,
    professional_rpps: Annotated[Rpps | None, Query()] = None,
    start: Annotated[
        OffsetDatetime | None, Query(description="slots ending after this time")
    ] = None,
    end: Annotated[
        OffsetDatetime | None, Query(description="slots starting before this time")
    ] = None,
) -> Page[SlotOut]:
    items, next_cursor = await slots.list_slots(
        session,
        software,
        cursor=cursor,
        limit=limit,
        status=status,
        professional_rpps=professional_rpps,
        start=start,
        end=end,
    )
    return Page(items=items, next_cursor=next_cursor)


@router.delete("/{external_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problems(409))
async def cancel_slot(
    external_id: Annotated[ExternalId, Path()],
    session: SessionDep,
    software: PracticeSoftwareDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Withdraw a free slot (409 if held or booked). Repeating it is harmless, with or without
    an Idempotency-Key: a cancelled slot stays cancelled and no second event is written.
    """
    await slots.cancel_slot(session, software, external_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _write(
    request: Request,
    session: SessionDep,
    principal: Principal,
    key: str | None,
    body: SlotBatch,
    produce: Callable[[], Awaitable[dict[str, Any]]],
) -> Response:
    if key is None:
        # The answer is plain JSON data already: serialise it once, fast (5,000 results).
        return Response(orjson.dumps(await produce()), media_type="application/json")
    return await idempotent(request, session, principal, key, body, status.HTTP_200_OK, produce)
