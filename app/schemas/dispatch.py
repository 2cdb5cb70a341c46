"""One-call dispatch: search, then hold the best candidate still free."""

from pydantic import ConfigDict, Field

from app.schemas.common import Output
from app.schemas.hold import DEFAULT_HOLD_SECONDS, MAX_HOLD_SECONDS, MIN_HOLD_SECONDS, HoldOut
from app.schemas.search import SEARCH_EXAMPLE, Candidate, SearchQuery

MAX_ALTERNATIVES = 5


class DispatchRequest(SearchQuery):
    """`POST /v1/dispatch`: a search body and how long to hold the slot found."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [SEARCH_EXAMPLE | {"ttl_seconds": 300}]}
    )

    ttl_seconds: int = Field(default=DEFAULT_HOLD_SECONDS, ge=MIN_HOLD_SECONDS, le=MAX_HOLD_SECONDS)


class DispatchOut(Output):
    """The hold taken, the candidate it is on, and up to 5 next-best candidates."""

    hold: HoldOut
    candidate: Candidate
    alternatives: list[Candidate]
    radius_km: float
    enlarged: bool
