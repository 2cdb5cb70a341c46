"""A watch's events for the openings near it: its search, run now, and the hold when asked.

The search is `search.service.find_candidates` itself (same rules, same ranking, audited like
every search); an opening is a match when that search returns its slot. With `hold`, the
matches are tried in ranking order by `holds.take.take_first_free` (the conditional update of
`POST /v1/holds`: never two holds on a slot), after the watch row is claimed in the same
transaction (never two holds for a watch, even served by two streams at once).
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.auth import Principal
from app.core.config import Settings
from app.core.crypto import cipher_for
from app.core.db import search_session
from app.core.pagination import encode_bigint_pair_cursor
from app.schemas.hold import DEFAULT_HOLD_SECONDS
from app.schemas.search import Candidate
from app.schemas.watch import WatchEvent, WatchEventStatus
from app.services.holds.lifecycle import hold_out
from app.services.holds.take import Hold, take_first_free
from app.services.search.reference import open_reference
from app.services.search.service import find_candidates
from app.services.watches import store
from app.services.watches.changes import Opening
from app.services.watches.nearby import Vicinity


@dataclass(frozen=True)
class Emitted:
    """One `slot` event of a stream: its id (the opening's feed position, sealed) and data."""

    id: str
    data: WatchEvent

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "data": self.data.model_dump(mode="json")}


async def events_for(
    sessionmaker: async_sessionmaker[AsyncSession],
    search_sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    watch_id: uuid.UUID,
    principal: Principal,
    vicinity: Vicinity,
    hold: bool,
    openings: Sequence[Opening],
) -> list[Emitted]:
    """The events of `openings` (all near the watch) for it, in feed order."""
    async with search_session(search_sessions) as session:
        result = await find_candidates(
            session, principal, vicinity.query, settings=settings, plans_per_execution=True
        )
    opened = {o.slot_id: o for o in openings}
    matches = [c for c in result.candidates if c.slot_id in opened]
    if not matches:
        return []
    statuses: dict[uuid.UUID, tuple[WatchEventStatus, Hold | None]] = {}
    if hold:
        search = open_reference(
            cipher_for(settings.patient_data_key), principal.client_id, result.search_id
        )
        async with sessionmaker() as session, session.begin():
            if await store.claim_hold(session, watch_id):
                taken = await take_first_free(
                    session,
                    principal,
                    [c.slot_id for c in matches],
                    DEFAULT_HOLD_SECONDS,
                    via="watch",
                    search=search,
                )
                held_at = len(matches) if taken is None else _index(matches, taken.slot_id)
                for c in matches[:held_at]:
                    statuses[c.slot_id] = ("taken", None)
                if taken is not None:
                    statuses[taken.slot_id] = ("held", taken)
                    event = _emitted(
                        watch_id, opened[taken.slot_id], matches[held_at], "held", taken
                    )
                    await store.record_hold(session, watch_id, taken.id, _json(event))
    emitted = []
    for c in matches:
        status, taken = statuses.get(c.slot_id, ("open", None))
        emitted.append(_emitted(watch_id, opened[c.slot_id], c, status, taken))
    # In feed order: a resume after one event's id never skips another of the same pass.
    emitted.sort(key=lambda e: opened[e.data.candidate.slot_id].at)
    return emitted


def _index(matches: list[Candidate], slot_id: uuid.UUID) -> int:
    return next(i for i, c in enumerate(matches) if c.slot_id == slot_id)


def _emitted(
    watch_id: uuid.UUID,
    opening: Opening,
    candidate: Candidate,
    status: WatchEventStatus,
    taken: Hold | None,
) -> Emitted:
    return Emitted(
        id=encode_bigint_pair_cursor(*opening.at),
        data=WatchEvent(
            watch_id=watch_id,
            status=status,
            candidate=candidate,
            hold=hold_out(taken, DEFAULT_HOLD_SECONDS) if taken is not None else None,
        ),
    )


def _json(event: Emitted) -> str:
    return orjson.dumps(event.as_json()).decode()
