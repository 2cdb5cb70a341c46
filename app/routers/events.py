from typing import Annotated

from fastapi import APIRouter, Query, Request

from app.core.auth import ClientDep
from app.core.crypto import CipherDep
from app.core.db import SessionDep
from app.schemas.event import EventFeed
from app.services.outbox.feed import read_feed

router = APIRouter(prefix="/v1/events", tags=["events"])

After = Annotated[
    str | None,
    Query(max_length=200, description="`next_after` of the previous page; absent: the oldest"),
]


@router.get("")
async def list_events(
    request: Request,
    session: SessionDep,
    client: ClientDep,
    cipher: CipherDep,
    after: After = None,
    limit: Annotated[int, Query(ge=1, le=500, description="page size")] = 100,
) -> EventFeed:
    """Your events after `after`, in commit order: the same ids and bodies as your webhooks.

    Only events of transactions that are over are served, so a page never passes over an event
    that commits later; poll again with `next_after`.
    """
    return await read_feed(
        session,
        client,
        cipher,
        after=after,
        limit=limit,
        retention_days=request.app.state.settings.event_retention_days,
    )
