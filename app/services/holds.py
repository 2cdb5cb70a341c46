"""Holds: one conditional update takes a free slot for a regulator; renew; release.

A slot is free for a hold when its status is `free`, or `held` with an expired hold (expired
holds are free again at once, before the sweeper passes). The slot row is always locked first,
then its bookings row, in every write path (hold, renew, release, book, cancel, sweep), so two
writers never deadlock; the unique index `uq_bookings_active_slot` backs the rule that a slot
has at most one active hold or booking.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.errors import Conflict, NotFound, SlotNotFree
from app.schemas.hold import HoldCreate, HoldOut
from app.services import audit

# Free for a hold: free, or held by an expired hold; not yet over.
FREE_FOR_HOLD = (
    "(s.status = 'free' OR (s.status = 'held' AND s.hold_expires_at < now())) AND s.end_at > now()"
)
# The slot's site lies in one of the regulator's territories.
IN_SCOPE = (
    "s.site_id IN (SELECT si.id FROM sites si"
    " WHERE si.territory_id = ANY(CAST(:territories AS uuid[])))"
)

# `pick` locks the one slot to take. The rest: mark it held, expire the previous (lapsed) hold
# row first (`expired_first` forces that order, so the unique index sees one active row), insert
# the new hold, and write the events, in one statement.
_TAKE = f"""
, held AS (
    UPDATE slots s
    SET status = 'held', hold_expires_at = now() + make_interval(secs => CAST(:ttl AS float8)),
        version = s.version + 1, updated_at = now()
    WHERE s.id = (SELECT id FROM pick) AND {FREE_FOR_HOLD}
    RETURNING s.id, s.external_id, s.source_client_id, s.site_id, s.hold_expires_at
), lapsed AS (
    UPDATE bookings b SET status = 'expired', updated_at = now()
    FROM held WHERE b.slot_id = held.id AND b.status = 'held'
    RETURNING b.id, b.slot_id
), hold AS (
    INSERT INTO bookings (slot_id, regulator_client_id, status, expires_at)
    SELECT held.id, :regulator, 'held', held.hold_expires_at
    FROM held CROSS JOIN (SELECT count(*) FROM lapsed) AS expired_first
    RETURNING id, slot_id, expires_at
), place AS (
    SELECT held.*, si.territory_id FROM held JOIN sites si ON si.id = held.site_id
), events AS (
    INSERT INTO outbox_events (type, recipient_client_id, territory_id, data)
    SELECT 'hold.expired', p.source_client_id, p.territory_id,
           jsonb_build_object('hold_id', l.id, 'slot_id', p.id, 'external_id', p.external_id)
    FROM lapsed l JOIN place p ON p.id = l.slot_id
    UNION ALL
    SELECT 'hold.created', p.source_client_id, p.territory_id,
           jsonb_build_object('hold_id', h.id, 'slot_id', p.id, 'external_id', p.external_id,
                              'expires_at', h.expires_at)
    FROM hold h JOIN place p ON p.id = h.slot_id
)
SELECT h.id, h.slot_id, h.expires_at, p.territory_id
FROM hold h JOIN place p ON p.id = h.slot_id
"""  # noqa: S608 (built from this module's constants only)

_HOLD_ONE = text(
    f"""
    WITH pick AS (
        SELECT s.id FROM slots s WHERE s.id = :slot_id AND {FREE_FOR_HOLD} AND {IN_SCOPE}
        FOR UPDATE
    )
    {_TAKE}
    """  # noqa: S608 (built from this module's constants only)
)


def _first_free_of(lock: str) -> str:
    return f"""
    WITH pick AS (
        SELECT s.id FROM slots s
        WHERE s.id = ANY(CAST(:slot_ids AS uuid[])) AND {FREE_FOR_HOLD} AND {IN_SCOPE}
        ORDER BY array_position(CAST(:slot_ids AS uuid[]), s.id)
        LIMIT 1
        {lock}
    )
    {_TAKE}
    """  # noqa: S608 (built from this module's constants only)


# Dispatch: the first candidate, in ranking order, that is free and not being taken right now.
_HOLD_FIRST_UNLOCKED = text(_first_free_of("FOR UPDATE SKIP LOCKED"))
# Its fallback: wait for the writers in flight, then take the first still free.
_HOLD_FIRST_WAITING = text(_first_free_of("FOR UPDATE"))

_RENEW = text(
    """
    WITH mine AS (
        SELECT b.id, b.slot_id, b.expires_at FROM bookings b
        WHERE b.slot_id = :slot_id AND b.regulator_client_id = :regulator
          AND b.status = 'held' AND b.expires_at >= now()
    ), slot AS (
        UPDATE slots s
        SET hold_expires_at = now() + make_interval(secs => CAST(:ttl AS float8)),
            version = s.version + 1, updated_at = now()
        FROM mine
        WHERE s.id = mine.slot_id AND s.status = 'held' AND s.hold_expires_at = mine.expires_at
        RETURNING s.id, s.site_id, s.hold_expires_at
    ), renewed AS (
        UPDATE bookings b SET expires_at = slot.hold_expires_at, updated_at = now()
        FROM slot, mine WHERE b.id = mine.id AND b.status = 'held'
        RETURNING b.id, b.slot_id, b.expires_at
    )
    SELECT slot.id AS slot_id, slot.hold_expires_at, si.territory_id, r.id
    FROM slot JOIN sites si ON si.id = slot.site_id LEFT JOIN renewed r ON true
    """
)

_RELEASE = text(
    """
    WITH mine AS (
        SELECT b.id, b.slot_id, b.expires_at FROM bookings b
        WHERE b.id = :hold_id AND b.regulator_client_id = :regulator AND b.status = 'held'
    ), freed AS (
        UPDATE slots s SET status = 'free', hold_expires_at = NULL,
                           version = s.version + 1, updated_at = now()
        FROM mine
        WHERE s.id = mine.slot_id AND s.status = 'held' AND s.hold_expires_at = mine.expires_at
        RETURNING s.id, s.external_id, s.source_client_id, s.site_id
    ), released AS (
        UPDATE bookings b SET status = 'released', updated_at = now()
        FROM freed, mine WHERE b.id = mine.id AND b.status = 'held'
        RETURNING b.id
    ), place AS (
        SELECT freed.*, si.territory_id FROM freed JOIN sites si ON si.id = freed.site_id
    ), events AS (
        INSERT INTO outbox_events (type, recipient_client_id, territory_id, data)
        SELECT 'hold.released', p.source_client_id, p.territory_id,
               jsonb_build_object('hold_id', r.id, 'slot_id', p.id, 'external_id', p.external_id)
        FROM released r CROSS JOIN place p
    )
    SELECT p.id AS slot_id, p.territory_id, r.id FROM place p LEFT JOIN released r ON true
    """
)

_SLOT_STATE = text(
    """
    SELECT s.status, s.end_at > now() AS open, si.territory_id
    FROM slots s JOIN sites si ON si.id = s.site_id WHERE s.id = :slot_id
    """
)

_HOLD_STATE = text(
    "SELECT status, slot_id FROM bookings WHERE id = :hold_id AND regulator_client_id = :regulator"
)


@dataclass(frozen=True)
class Hold:
    id: uuid.UUID
    slot_id: uuid.UUID
    expires_at: datetime
    territory_id: uuid.UUID


def _scope(principal: Principal) -> dict[str, object]:
    return {"regulator": principal.client_id, "territories": list(principal.territory_ids)}


async def take_first_free(
    session: AsyncSession,
    principal: Principal,
    slot_ids: Sequence[uuid.UUID],
    ttl_seconds: int,
    *,
    wait: bool = False,
) -> Hold | None:
    """Hold the first of `slot_ids` (best first) that is free, or None.

    Rule: one statement; slots another transaction is taking are skipped (`SKIP LOCKED`), unless
    `wait`, where they are waited for and re-checked, so a race never hides a free slot.
    """
    if not slot_ids:
        return None
    statement = _HOLD_FIRST_WAITING if wait else _HOLD_FIRST_UNLOCKED
    row = (
        await session.execute(
            statement, {"slot_ids": list(slot_ids), "ttl": ttl_seconds, **_scope(principal)}
        )
    ).one_or_none()
    return Hold(row.id, row.slot_id, row.expires_at, row.territory_id) if row else None


async def _take_slot(
    session: AsyncSession, principal: Principal, slot_id: uuid.UUID, ttl_seconds: int
) -> Hold | None:
    row = (
        await session.execute(
            _HOLD_ONE, {"slot_id": slot_id, "ttl": ttl_seconds, **_scope(principal)}
        )
    ).one_or_none()
    return Hold(row.id, row.slot_id, row.expires_at, row.territory_id) if row else None


async def _renew(
    session: AsyncSession, principal: Principal, slot_id: uuid.UUID, ttl_seconds: int
) -> Hold | None:
    row = (
        await session.execute(
            _RENEW,
            {"slot_id": slot_id, "ttl": ttl_seconds, "regulator": principal.client_id},
        )
    ).one_or_none()
    if row is None:
        return None
    if row.id is None:  # the hold lapsed and was taken while we renewed: undo by refusing
        raise SlotNotFree("the hold expired and another regulator took the slot", location="body")
    return Hold(row.id, row.slot_id, row.hold_expires_at, row.territory_id)


async def _refusal(session: AsyncSession, principal: Principal, slot_id: uuid.UUID) -> Exception:
    state = (await session.execute(_SLOT_STATE, {"slot_id": slot_id})).one_or_none()
    if state is None or state.territory_id not in principal.territory_ids:
        # Slots of other territories are not revealed: same answer as an unknown id.
        return NotFound(f"no slot {slot_id} in your territories", location="body.slot_id")
    if not state.open:
        reason = "the slot is over"
    elif state.status == "held":
        reason = "another regulator holds the slot"
    elif state.status == "booked":
        reason = "the slot is booked"
    elif state.status == "cancelled":
        reason = "the slot was cancelled by its practice"
    else:
        reason = "the slot was not free when the hold was attempted; retry"
    return SlotNotFree(reason, location="body.slot_id", slot_status=state.status)


def hold_out(hold: Hold, ttl_seconds: int, *, renewed: bool = False) -> HoldOut:
    return HoldOut(
        id=hold.id,
        slot_id=hold.slot_id,
        expires_at=hold.expires_at,
        ttl_seconds=ttl_seconds,
        renewed=renewed,
    )


async def hold_slot(session: AsyncSession, principal: Principal, data: HoldCreate) -> HoldOut:
    """Hold a free slot of the regulator's territories, or renew the regulator's live hold on it.

    Rule: one conditional update decides (free, or held by an expired hold); a slot that is not
    free is a 409; a slot outside the regulator's territories is a 404.
    """
    hold = await _take_slot(session, principal, data.slot_id, data.ttl_seconds)
    renewed = False
    if hold is None:
        hold = await _renew(session, principal, data.slot_id, data.ttl_seconds)
        renewed = hold is not None
    if hold is None:
        raise await _refusal(session, principal, data.slot_id)
    await audit.record(
        session,
        principal,
        "hold.renew" if renewed else "hold.create",
        "hold",
        hold.id,
        territory_id=hold.territory_id,
        detail={"slot_id": str(hold.slot_id), "ttl_seconds": data.ttl_seconds},
    )
    return hold_out(hold, data.ttl_seconds, renewed=renewed)


async def release_hold(session: AsyncSession, principal: Principal, hold_id: uuid.UUID) -> None:
    """Release the regulator's hold: the slot is free again at once.

    Rule: releasing a hold that already lapsed or was released changes nothing (204); a hold
    that became a booking is a 409 (cancel the booking instead).
    """
    row = (
        await session.execute(_RELEASE, {"hold_id": hold_id, "regulator": principal.client_id})
    ).one_or_none()
    if row is not None and row.id is None:
        raise Conflict("the hold lapsed and another regulator took the slot", location="path")
    if row is None:
        state = (
            await session.execute(
                _HOLD_STATE, {"hold_id": hold_id, "regulator": principal.client_id}
            )
        ).one_or_none()
        if state is None:
            raise NotFound(f"no hold {hold_id} of yours", location="path.hold_id")
        if state.status not in ("released", "expired", "held"):
            raise Conflict(
                f"this hold became a booking ({state.status}); cancel it with "
                f"POST /v1/bookings/{hold_id}/cancel",
                location="path.hold_id",
            )
        return
    await audit.record(
        session,
        principal,
        "hold.release",
        "hold",
        hold_id,
        territory_id=row.territory_id,
        detail={"slot_id": str(row.slot_id)},
    )
