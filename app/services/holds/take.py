"""Taking a free slot: the one statement behind a hold and a dispatch.

A slot may be taken when it is free and offered in one of the regulator's territories: the
rules of `slots.rules`, the same the search applies.

One statement marks the slot held, expires the lapsed hold row it replaces, inserts the new
hold, and writes its events and its audit event. Every write path (hold, renew, release, book,
cancel, sweep) locks the slot row before its bookings row, so two writers never deadlock on
them; the unique index `uq_bookings_active_slot` backs the rule that a slot has at most one
active hold or booking.

A statement waits for one slot at most. One that waited on several candidates in ranking order
kept a lock on each one it found taken after waiting, so two dispatches that ranked the same
slots in opposite orders deadlocked; the waiting pass now waits on the best candidate still
free in its snapshot only, inside a savepoint that it rolls back when it loses (releasing the
locks it took), and the next pass starts again with a fresh snapshot.
"""

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import TextClause, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.services.audit import record as audit
from app.services.outbox.tail import to_each, written_with
from app.services.search.reference import SearchReference
from app.services.slots.rules import free, offered

# Free and offered in the regulator's territories: the shared rules (`slots.rules`), at the
# statement's time (a dispatch's transaction may have started seconds earlier).
FREE_AND_OFFERED = f"{free('s', 'statement_timestamp()')} AND {offered('s', ':territories')}"


# The hold's events (the lapsed hold it replaces, to its practice and its regulator; the new
# one, to the practice and this regulator) and its audit event.
_TAKE_TAIL = written_with(
    events=f"""
        SELECT 'hold.expired', r.recipient_client_id, p.territory_id,
               jsonb_build_object('hold_id', l.id, 'slot_id', p.id,
                                  'external_id', p.external_id)
        FROM lapsed l JOIN place p ON p.id = l.slot_id
        {to_each("p.source_client_id", "l.regulator_client_id")}
        UNION ALL
        SELECT 'hold.created', r.recipient_client_id, p.territory_id,
               jsonb_build_object('hold_id', h.id, 'slot_id', p.id,
                                  'external_id', p.external_id, 'expires_at', h.expires_at)
        FROM hold h JOIN place p ON p.id = h.slot_id
        {to_each("p.source_client_id", ":actor_id")}
    """,  # noqa: S608 (built from constants only)
    audit="""
        SELECT :actor_id, :actor, 'hold.create', 'hold', CAST(h.id AS text), p.territory_id,
               jsonb_build_object('slot_id', h.slot_id, 'ttl_seconds', CAST(:ttl AS int))
               || CASE WHEN CAST(:via AS text) IS NULL THEN CAST('{}' AS jsonb)
                  ELSE jsonb_build_object(
                      'via', CAST(:via AS text),
                      'rank', array_position(CAST(:slot_ids AS uuid[]), h.slot_id),
                      'candidates', cardinality(CAST(:slot_ids AS uuid[])))
                  END
        FROM hold h JOIN place p ON p.id = h.slot_id
    """,
)


# The indicators' facts of the hold (migration 0013): where and whose the slot is and when it
# starts (a slot freed by a cancellation may be pushed again at another time), the search's
# time and the straight-line distance from its location to the slot's site (NULL when the hold
# names no search).
_SEARCH_DISTANCE_M = """CASE WHEN CAST(:search_lat AS float8) IS NOT NULL THEN earth_distance(
                       ll_to_earth(CAST(:search_lat AS float8), CAST(:search_lon AS float8)),
                       ll_to_earth(si.lat, si.lon)) END"""


def _take_sql(lock: str) -> TextClause:
    # `pick` chooses the slot (best first); `held` takes it, re-checking every rule on the row
    # version it locked; `expired_first` makes the lapsed hold row leave the unique index before
    # the new one enters it. The answer has a row whenever something was picked, so a caller
    # tells "nothing was free" from "lost the race for the one picked".
    return text(
        f"""
        WITH pick AS (
            SELECT s.id FROM slots s
            WHERE s.id = ANY(CAST(:slot_ids AS uuid[])) AND {FREE_AND_OFFERED}
            ORDER BY array_position(CAST(:slot_ids AS uuid[]), s.id)
            LIMIT 1
            {lock}
        ), held AS (
            UPDATE slots s
            SET status = 'held',
                hold_expires_at = statement_timestamp() + make_interval(secs => CAST(:ttl AS int)),
                version = s.version + 1, updated_at = statement_timestamp()
            WHERE s.id = (SELECT id FROM pick) AND {FREE_AND_OFFERED}
            RETURNING s.id, s.external_id, s.source_client_id, s.site_id, s.hold_expires_at,
                      s.start_at, s.professional_id
        ), lapsed AS (
            UPDATE bookings b SET status = 'expired', updated_at = statement_timestamp()
            FROM held WHERE b.slot_id = held.id AND b.status = 'held'
            RETURNING b.id, b.slot_id, b.regulator_client_id
        ), hold AS (
            INSERT INTO bookings (slot_id, regulator_client_id, status, expires_at, territory_id,
                                  professional_id, starts_at, searched_at, search_distance_m,
                                  created_at, updated_at)
            SELECT held.id, :actor_id, 'held', held.hold_expires_at, si.territory_id,
                   held.professional_id, held.start_at,
                   CAST(:searched_at AS timestamptz), {_SEARCH_DISTANCE_M},
                   statement_timestamp(), statement_timestamp()
            FROM held JOIN sites si ON si.id = held.site_id
            CROSS JOIN (SELECT count(*) FROM lapsed) AS expired_first
            RETURNING id, slot_id, expires_at
        ), place AS (
            SELECT held.*, si.territory_id FROM held JOIN sites si ON si.id = held.site_id
        ), {_TAKE_TAIL}
        SELECT pick.id AS picked, h.id, h.expires_at, p.territory_id
        FROM pick LEFT JOIN hold h ON true LEFT JOIN place p ON p.id = h.slot_id
        """  # noqa: S608 (built from this module's constants only)
    )


# The first candidate, in ranking order, that is free and that no one is taking right now.
_TAKE_UNLOCKED = _take_sql("FOR UPDATE SKIP LOCKED")
# The first candidate free in the statement's snapshot; a writer in flight on it is waited for.
_TAKE_WAITING = _take_sql("")


@dataclass(frozen=True)
class Hold:
    id: uuid.UUID
    slot_id: uuid.UUID
    expires_at: datetime
    territory_id: uuid.UUID


async def _take(
    session: AsyncSession,
    statement: TextClause,
    principal: Principal,
    slot_ids: Sequence[uuid.UUID],
    ttl_seconds: int,
    via: str | None,
    search: SearchReference | None,
) -> tuple[bool, Hold | None]:
    params = {
        "slot_ids": list(slot_ids),
        "ttl": ttl_seconds,
        "territories": list(principal.territory_ids),
        "via": via,
        "searched_at": search.searched_at if search else None,
        "search_lat": search.lat if search else None,
        "search_lon": search.lon if search else None,
        **audit.actor_params(principal),
    }
    row = (await session.execute(statement, params)).one_or_none()
    if row is None:
        return False, None
    hold = Hold(row.id, row.picked, row.expires_at, row.territory_id) if row.id else None
    return True, hold


async def take_slot(
    session: AsyncSession,
    principal: Principal,
    slot_id: uuid.UUID,
    ttl_seconds: int,
    search: SearchReference | None = None,
) -> Hold | None:
    """Hold one slot for the regulator, or None when it is not free and offered to it.

    Rule: one conditional statement; a writer in flight on the slot is waited for.
    """
    _, hold = await _take(session, _TAKE_WAITING, principal, [slot_id], ttl_seconds, None, search)
    return hold


class BudgetSpent(Exception):
    """The wait budget ran out before a candidate could be taken."""


@dataclass
class WaitBudget:
    """How long a dispatch may still wait on rivals' row locks, in seconds.

    Only the waiting passes spend it: queueing for a connection or the CPU under load is not
    contention, and a dispatch that keeps losing races is bounded by it whatever the load.
    """

    left: float

    def spend(self, seconds: float) -> None:
        self.left -= seconds


# Bounds the waiting pass by the time left; set back in the same savepoint once it is over.
_LOCK_TIMEOUT = text("SELECT set_config('lock_timeout', :timeout, true)")
_LOCK_TIMEOUT_DEFAULT = text("SET LOCAL lock_timeout TO DEFAULT")
_LOCK_NOT_AVAILABLE = "55P03"


async def take_first_free(
    session: AsyncSession,
    principal: Principal,
    slot_ids: Sequence[uuid.UUID],
    ttl_seconds: int,
    *,
    via: str = "dispatch",
    budget: WaitBudget | None = None,
    search: SearchReference | None = None,
) -> Hold | None:
    """Hold the first of `slot_ids` (best first) that is free, or None when none is.

    Rule: slots another transaction is taking are skipped (`SKIP LOCKED`); when that leaves
    nothing, the best slot still free is waited for, then the skipping pass runs again, so a
    race never hides a free slot. Each waiting pass is one statement waiting on one slot at
    most. Each pass runs in a savepoint that is rolled back when it took nothing: that releases
    every row lock the pass took (the one it waited for, and those `FOR UPDATE` locked before
    finding them taken meanwhile), so a dispatch never holds a slot's row while it waits for
    another, and cannot deadlock with a push or block a booking. `budget` bounds the time spent
    waiting; once it is spent, `BudgetSpent`.
    """
    for _ in range(len(slot_ids)):  # each lost wait removes a candidate
        picked, hold = await _attempt(
            session, principal, slot_ids, ttl_seconds, via, budget, search
        )
        if hold is not None or not picked:
            return hold
    return None


async def _attempt(
    session: AsyncSession,
    principal: Principal,
    slot_ids: Sequence[uuid.UUID],
    ttl_seconds: int,
    via: str,
    budget: WaitBudget | None,
    search: SearchReference | None,
) -> tuple[bool, Hold | None]:
    # Two savepoints: the skipping pass may lock rows it then finds taken (FOR UPDATE locks
    # the newest version before re-checking it); they must be let go before the waiting pass
    # waits, or a push waiting for them while holding the awaited row is a deadlock.
    async with session.begin_nested() as savepoint:
        _, hold = await _take(
            session, _TAKE_UNLOCKED, principal, slot_ids, ttl_seconds, via, search
        )
        if hold is None:
            await savepoint.rollback()
    if hold is not None:
        return True, hold
    try:
        async with session.begin_nested() as savepoint:
            picked, hold = await _waiting_pass(
                session, principal, slot_ids, ttl_seconds, via, budget, search
            )
            if hold is None:
                await savepoint.rollback()  # lost: let go of the row it waited for
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
            raise BudgetSpent from None
        raise
    return picked, hold


async def _waiting_pass(
    session: AsyncSession,
    principal: Principal,
    slot_ids: Sequence[uuid.UUID],
    ttl_seconds: int,
    via: str,
    budget: WaitBudget | None,
    search: SearchReference | None,
) -> tuple[bool, Hold | None]:
    """The waiting statement, its lock wait bounded by what is left of `budget`."""
    if budget is None:
        return await _take(session, _TAKE_WAITING, principal, slot_ids, ttl_seconds, via, search)
    if budget.left <= 0:
        raise BudgetSpent
    started = time.monotonic()
    try:
        await session.execute(_LOCK_TIMEOUT, {"timeout": f"{max(1, int(budget.left * 1000))}ms"})
        picked, hold = await _take(
            session, _TAKE_WAITING, principal, slot_ids, ttl_seconds, via, search
        )
        await session.execute(_LOCK_TIMEOUT_DEFAULT)
    finally:
        budget.spend(time.monotonic() - started)
    return picked, hold
