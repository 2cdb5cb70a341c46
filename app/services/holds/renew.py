"""Renewing a hold: its holder extends it, while it is live, up to a cap on its whole life.

Rules: only the client that holds it renews it (another client's hold is not revealed: 404);
only while it is live (409 `hold-not-live`); the new expiry is the statement's time plus the
ttl asked, cut at the hold's creation plus `HOLD_MAX_LIFETIME_SECONDS`, so nobody keeps a slot
for hours. When the cap leaves nothing to add (the hold already ends at its cap and more was
asked), the renewal is refused (409 `hold-lifetime-reached`) and the hold stays as it is.

One statement writes the new expiry on the slot and on the hold, a `hold.renewed` event to the
slot's practice software and to the regulator, and the audit event; like every write path it
locks the slot row before its bookings row. The slot row carries the hold's expiry, not its id:
the slot is renewed only if it still carries this hold's expiry, so a renewal that lost a race
to another write on the slot (a booking, a release, a renewal of the same hold) changes nothing
and is decided again on a fresh snapshot.
"""

import uuid
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.errors import Conflict, NotFound
from app.schemas.hold import HoldOut, HoldRenew
from app.services.audit import record as audit
from app.services.holds.errors import HoldLifetimeReached, hold_not_live
from app.services.outbox.tail import to_each, written_with

# A renewal that lost a race is tried again on a fresh snapshot, this many times at most.
_ATTEMPTS = 3

_RENEW_TAIL = written_with(
    events=f"""
        SELECT 'hold.renewed', r.recipient_client_id, p.territory_id,
               jsonb_build_object('hold_id', p.hold_id, 'slot_id', p.id,
                                  'external_id', p.external_id, 'expires_at', p.expires_at)
        FROM place p {to_each("p.source_client_id", ":actor_id")}
    """,  # noqa: S608 (built from constants only)
    audit="""
        SELECT :actor_id, :actor, 'hold.renew', 'hold', CAST(p.hold_id AS text), p.territory_id,
               jsonb_build_object('slot_id', p.id, 'ttl_seconds', CAST(:ttl AS int),
                                  'expires_at', p.expires_at, 'capped', p.capped)
        FROM place p
    """,
)

# `mine`: the client's live hold, when its life ends, the expiry asked; `wanted`: the expiry it
# gets, unless the cap leaves nothing to add.
_RENEW = text(
    f"""
    WITH mine AS (
        SELECT b.id, b.slot_id, b.expires_at,
               b.created_at + make_interval(secs => CAST(:max_life AS int)) AS life_ends_at,
               statement_timestamp() + make_interval(secs => CAST(:ttl AS int)) AS asked
        FROM bookings b
        WHERE b.id = :hold_id AND b.regulator_client_id = :actor_id
          AND b.status = 'held' AND b.expires_at > statement_timestamp()
    ), wanted AS (
        SELECT mine.*, least(asked, life_ends_at) AS new_expiry, asked > life_ends_at AS capped
        FROM mine
        WHERE asked <= life_ends_at OR expires_at < life_ends_at
    ), slot AS (
        UPDATE slots s SET hold_expires_at = w.new_expiry,
                           version = s.version + 1, updated_at = statement_timestamp()
        FROM wanted w
        WHERE s.id = w.slot_id AND s.status = 'held' AND s.hold_expires_at = w.expires_at
        RETURNING s.id, s.external_id, s.source_client_id, s.site_id, s.hold_expires_at
    ), renewed AS (
        UPDATE bookings b SET expires_at = slot.hold_expires_at,
                              updated_at = statement_timestamp()
        FROM slot, wanted w WHERE b.id = w.id AND b.status = 'held'
        RETURNING b.id, b.slot_id, b.expires_at
    ), place AS (
        SELECT slot.id, slot.external_id, slot.source_client_id, si.territory_id,
               r.id AS hold_id, r.expires_at, w.capped
        FROM renewed r JOIN slot ON slot.id = r.slot_id JOIN sites si ON si.id = slot.site_id
        CROSS JOIN wanted w
    ), {_RENEW_TAIL}
    SELECT (SELECT count(*) FROM slot) AS moved, p.hold_id, p.id AS slot_id, p.expires_at,
           CAST(ceil(extract(epoch FROM p.expires_at - statement_timestamp())) AS int) AS ttl
    FROM (SELECT 1) AS one LEFT JOIN place p ON true
    """  # noqa: S608 (built from constants only)
)

# A fresh read of the hold after a renewal that changed nothing: what to answer.
_HOLD_STATE = text(
    """
    SELECT b.status, b.expires_at, b.expires_at > statement_timestamp() AS live,
           b.created_at + make_interval(secs => CAST(:max_life AS int)) AS life_ends_at,
           statement_timestamp() + make_interval(secs => CAST(:ttl AS int))
               > b.created_at + make_interval(secs => CAST(:max_life AS int)) AS asks_beyond
    FROM bookings b
    WHERE b.id = :hold_id AND b.regulator_client_id = :actor_id
    """
)


async def _refusal(session: AsyncSession, params: dict[str, object]) -> Exception | None:
    """Why the hold was not renewed; None when it could be now (it lost a race: try again)."""
    hold_id, max_life = params["hold_id"], params["max_life"]
    state = (await session.execute(_HOLD_STATE, params)).one_or_none()
    if state is None:  # unknown, or another client's: not revealed
        return NotFound(f"no hold {hold_id} of yours", location="path.hold_id")
    if state.status != "held" or not state.live:
        return hold_not_live(state.status, state.expires_at, location="path.hold_id")
    if state.asks_beyond and state.expires_at >= state.life_ends_at:
        ends: datetime = state.life_ends_at
        return HoldLifetimeReached(
            f"this hold has reached its maximum life of {max_life} s: it ends at "
            f"{ends.isoformat()} and cannot be renewed again; book the slot or release it",
            location="path.hold_id",
            expires_at=state.expires_at.isoformat(),
        )
    return None


async def renew_hold(
    session: AsyncSession,
    principal: Principal,
    hold_id: uuid.UUID,
    data: HoldRenew,
    *,
    max_lifetime_seconds: int,
) -> HoldOut:
    """The client's live hold now expires `ttl_seconds` from now, at most at its lifetime cap.

    Rule: only the holding client, only while live, never beyond creation +
    `max_lifetime_seconds` (a renewal asking beyond is cut at the cap; one with nothing left to
    add is a 409). One statement, with its `hold.renewed` event and audit event.
    """
    params: dict[str, object] = {
        "hold_id": hold_id,
        "ttl": data.ttl_seconds,
        "max_life": max_lifetime_seconds,
        **audit.actor_params(principal),
    }
    for _ in range(_ATTEMPTS):
        row = (await session.execute(_RENEW, params)).one()
        if row.moved and row.hold_id is None:  # never seen: the slot is locked first; roll back
            raise Conflict("the hold changed while it was renewed; retry", location="path.hold_id")
        if row.hold_id is not None:
            return HoldOut(
                id=row.hold_id, slot_id=row.slot_id, expires_at=row.expires_at, ttl_seconds=row.ttl
            )
        refusal = await _refusal(session, params)
        if refusal is not None:
            raise refusal
    raise Conflict("the hold kept changing while it was renewed; retry", location="path.hold_id")
