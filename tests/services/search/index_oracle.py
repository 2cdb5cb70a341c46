"""Every search of the search tests asked twice: by SQL (the reference) and by the in-memory
index built from the same data (the test's transaction), and the two answers compared.

`compare_with_index` wraps `rank_candidates` (behind `find_candidates` too) wherever it was
imported: each call runs the SQL
search as the test asked it, then, in a savepoint rolled back afterwards (so the index's audit
row leaves no trace), the same search read from a `FreeSlots` loaded from the session's own
snapshot. The candidates (every field), the radius, `enlarged` and the window must be equal,
and each answer's orjson bytes must be what the `SearchResult` model would serialise.
"""

import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.schemas.search import SearchResult
from app.services.outbox.events import driver_connection
from app.services.search import service
from app.services.search.index.feed import read_snapshot
from app.services.search.index.store import FreeSlots, to_us


class StaticIndex:
    """A `SearchIndex` that is always usable, over fixed `slots`."""

    def __init__(self, slots: FreeSlots) -> None:
        self.slots = slots

    def unusable(self, window_end: datetime) -> str | None:
        return None


def comparable(result: SearchResult | service.SearchAnswer) -> dict[str, Any]:
    if isinstance(result, service.SearchAnswer):
        assert result.json() == result.result().model_dump_json().encode()
        result = result.result()
    dumped = result.model_dump(mode="json")
    dumped.pop("search_id")
    return dumped


async def index_of(session: AsyncSession, now: datetime) -> StaticIndex:
    """The index of what the session sees now (its transaction included)."""
    driver = await driver_connection(session)
    snapshot = await read_snapshot(driver, now - timedelta(days=1), now + timedelta(hours=80))
    slots = FreeSlots(snapshot.directory, to_us(now + timedelta(hours=80)))
    slots.load(snapshot.slots)
    return StaticIndex(slots)


def compare_with_index(monkeypatch: Any) -> list[int]:
    """Patch `rank_candidates` everywhere; the list counts the searches compared."""
    real: Callable[..., Any] = service.rank_candidates
    compared: list[int] = []

    async def both(
        session: AsyncSession, principal: Any, query: Any, **kwargs: Any
    ) -> service.SearchAnswer:
        sql: service.SearchAnswer = await real(session, principal, query, **kwargs)
        # The answer's bytes are the model's (orjson for the route, the model for the rest).
        assert sql.json() == sql.result().model_dump_json().encode()
        # A road-time provider counts its requests: those tests see the SQL search alone.
        if kwargs.get("index") is not None or kwargs.get("travel_times") is not None:
            return sql
        now = kwargs.get("now") or datetime.now(UTC)
        savepoint = await session.begin_nested()
        try:
            index = await index_of(session, now)
            from_index = await real(
                session, principal, query, **{**kwargs, "now": now, "index": index}
            )
        finally:
            await savepoint.rollback()
        if kwargs.get("now") is None:  # the SQL search's own `now` differed by microseconds
            return sql
        assert comparable(from_index) == comparable(sql), (
            f"index and SQL disagree for {query!r}:\nindex {comparable(from_index)}\n"
            f"sql   {comparable(sql)}"
        )
        compared.append(1)
        return sql

    for module in list(sys.modules.values()):
        if getattr(module, "rank_candidates", None) is real:
            monkeypatch.setattr(module, "rank_candidates", both)
    return compared


__all__ = ["StaticIndex", "compare_with_index", "comparable", "index_of", "uuid"]
