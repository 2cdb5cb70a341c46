"""Watches of a search (issue 17): the request body, the watch, and the events of its stream."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field, JsonValue

from app.schemas.common import Output
from app.schemas.hold import HoldOut
from app.schemas.search import SEARCH_EXAMPLE, Candidate, SearchQuery

DEFAULT_WATCH_SECONDS = 1800
MAX_WATCH_SECONDS = 7200
MIN_WATCH_SECONDS = 60

WATCH_EXAMPLE: dict[str, JsonValue] = {**SEARCH_EXAMPLE, "lifetime_seconds": 1800, "hold": True}


class WatchCreate(SearchQuery):
    """`POST /v1/watches`: a search body (as `POST /v1/searches`), how long to watch it and
    whether to hold the first slot that opens."""

    model_config = ConfigDict(json_schema_extra={"examples": [WATCH_EXAMPLE]})

    lifetime_seconds: int = Field(
        default=DEFAULT_WATCH_SECONDS, ge=MIN_WATCH_SECONDS, le=MAX_WATCH_SECONDS
    )
    hold: bool = False

    def search(self) -> SearchQuery:
        return SearchQuery.model_validate(self.model_dump(exclude={"lifetime_seconds", "hold"}))


class WatchOut(Output):
    """A watch; its events stream at `events_url` until `expires_at` or its deletion."""

    id: uuid.UUID
    created_at: datetime
    expires_at: datetime
    hold: bool
    events_url: str


WatchEventStatus = Literal["open", "held", "taken"]


class WatchEvent(Output):
    """The data of a `slot` event of a watch's stream (`text/event-stream`).

    `status`: `open`, the slot is free and the watch's search now returns it as `candidate`
    (ranked as that search ranks it); `held`, the watch held it for you (`hold`); `taken`, it
    opened but was taken by someone else before this watch with `hold` could hold it.
    """

    watch_id: uuid.UUID
    status: WatchEventStatus
    candidate: Candidate
    hold: HoldOut | None = None


class WatchEnd(Output):
    """The data of the `end` event, the last of a stream."""

    watch_id: uuid.UUID
    reason: Literal["expired", "deleted", "shutdown"]
