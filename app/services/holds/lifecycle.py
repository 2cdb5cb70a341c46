"""Holds: a regulator takes a free slot for a few minutes, and releases it.

Taking is `holds.take` (one conditional statement); a held slot is refused whoever holds it,
the holding client included: a call centre's operators share one key, and two of them racing
for a slot must not both be told they hold it. Renewal is explicit (`holds.renew`). Release is
one statement too, with its event and audit event; like every write path it locks the slot row
before its bookings row.
"""

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.config import get_settings
from app.core.crypto import PatientCipher, cipher_for
from app.core.errors import Conflict, InvalidInput, NotFound
from app.schemas.hold import HoldCreate, HoldOut
from app.services.audit import record as audit
from app.services.holds.take import Hold, take_slot
from app.services.outbox.tail import to_each, written_with
from app.services.search.reference import open_reference
from app.services.slots.errors import SlotNotFree
from app.services.slots.rules import offered

# `mine` is the regulator's hold, live or lapsed but not yet retaken; the slot is freed only if
# it still carries this hold's expiry.
_RELEASE_TAIL = written_with(
    events=f"""
        SELECT 'hold.released', r.recipient_client_id, p.territory_id,
               jsonb_build_object('hold_id', p.hold_id, 'slot_id', p.id,
                                  'external_id', p.external_id)
        FROM place p {to_each("p.source_client_id", ":actor_id")}
    """,  # noqa: S608 (built from constants only)
    audit="""
        SELECT :actor_id, :actor, 'hold.release', 'hold', CAST(p.hold_id AS text),
               p.territory_id, jsonb_build_object('slot_id', p.id)
        FROM place p
    """,
)

_RELEASE = text(
    f"""
    WITH mine AS (
        SELECT b.id, b.slot_id, b.expires_at FROM bookings b
        WHERE b.id = :hold_id AND b.regulator_client_id = :actor_id AND b.status = 'held'
    ), freed AS (
        UPDATE slots s SET status = 'free', hold_expires_at = NULL,
                           version = s.version + 1, updated_at = statement_timestamp()
        FROM mine
        WHERE s.id = mine.slot_id AND s.status = 'held' AND s.hold_expires_at = mine.expires_at
        RETURNING s.id, s.external_id, s.source_client_id, s.site_id
    ), released AS (
        UPDATE bookings b SET status = 'released', updated_at = statement_timestamp()
        FROM freed, mine WHERE b.id = mine.id AND b.status = 'held'
        RETURNING b.id
    ), place AS (
        SELECT freed.*, si.territory_id, r.id AS hold_id
        FROM freed JOIN sites si ON si.id = freed.site_id CROSS JOIN released r
    ), {_RELEASE_TAIL}
    SELECT (SELECT count(*) FROM freed) AS freed, (SELECT count(*) FROM place) AS released
    """  # noqa: S608 (built from constants only)
)

# Read in a statement of its own, after a release that freed nothing: the release's snapshot
# predates what committed while it waited on the slot row (a booking of this very hold).
_HOLD_STATUS = text(
    "SELECT status FROM bookings WHERE id = :hold_id AND regulator_client_id = :actor_id"
)
# A release that lost a race to a renewal of the hold is tried again, this many times at most.
_RELEASE_ATTEMPTS = 3

_SLOT_STATE = text(
    f"""
    SELECT s.status, s.start_at > statement_timestamp() AS open, si.territory_id,
           {offered("s", ":territories")} AS offered,
           (SELECT b.id FROM bookings b
            WHERE b.slot_id = s.id AND b.status = 'held' AND b.regulator_client_id = :actor_id
              AND b.expires_at > statement_timestamp()) AS your_hold_id
    FROM slots s JOIN sites si ON si.id = s.site_id
    WHERE s.id = :slot_id
    """  # noqa: S608 (built from constants only)
)


async def _refusal(session: AsyncSession, principal: Principal, slot_id: uuid.UUID) -> Exception:
    params = {
        "slot_id": slot_id,
        "territories": list(principal.territory_ids),
        "actor_id": principal.client_id,
    }
    state = (await session.execute(_SLOT_STATE, params)).one_or_none()
    if state is None or state.territory_id not in principal.territory_ids:
        # Slots of other territories are not revealed: same answer as an unknown id.
        return NotFound(f"no slot {slot_id} in your territories", location="body.slot_id")
    if not state.open:
        reason = "the slot is over: it has already started"
    elif state.your_hold_id is not None:
        reason = (
            f"your client already holds the slot (hold {state.your_hold_id}) and a hold is "
            f"exclusive; to keep it longer, POST /v1/holds/{state.your_hold_id}/renew"
        )
    elif state.status == "held":
        reason = "another regulator holds the slot"
    elif state.status == "booked":
        reason = "the slot is booked"
    elif state.status == "cancelled":
        reason = "the slot was cancelled by its practice"
    elif not state.offered:
        reason = (
            "the slot is no longer offered: its professional, site or territory is inactive, "
            "or the practice software that published it was revoked"
        )
    else:
        reason = "the slot was not free when the hold was attempted; retry"
    return SlotNotFree(reason, location="body.slot_id", slot_status=state.status)


def hold_out(hold: Hold, ttl_seconds: int) -> HoldOut:
    return HoldOut(
        id=hold.id, slot_id=hold.slot_id, expires_at=hold.expires_at, ttl_seconds=ttl_seconds
    )


async def hold_slot(
    session: AsyncSession,
    principal: Principal,
    data: HoldCreate,
    cipher: PatientCipher | None = None,
) -> HoldOut:
    """Hold a free slot of the regulator's territories.

    Rule: one conditional statement decides (free, or held by an expired hold); a slot that is
    not free is a 409, held by this very client too; a slot outside the regulator's
    territories is a 404. A `search_id` that is not one of this client's searches is a 422.
    """
    search = None
    if data.search_id is not None:
        cipher = cipher or cipher_for(get_settings().patient_data_key)
        search = open_reference(cipher, principal.client_id, data.search_id)
        if search is None:
            raise InvalidInput(
                "search_id is not the search_id of a search of your client",
                location="body.search_id",
            )
    hold = await take_slot(session, principal, data.slot_id, data.ttl_seconds, search)
    if hold is not None:
        return hold_out(hold, data.ttl_seconds)
    raise await _refusal(session, principal, data.slot_id)


async def release_hold(session: AsyncSession, principal: Principal, hold_id: uuid.UUID) -> None:
    """Release the regulator's hold: the slot is free again at once.

    Rule: releasing a hold that already lapsed or was released changes nothing (204); a hold
    that became a booking is a 409 (cancel the booking instead), also when that booking
    committed while the release waited on the slot row: the hold's status is then read afresh.
    """
    params = {"hold_id": hold_id, **audit.actor_params(principal)}
    for _ in range(_RELEASE_ATTEMPTS):
        row = (await session.execute(_RELEASE, params)).one()
        if row.freed != row.released:  # never seen: every writer locks the slot first; roll back
            raise Conflict("the hold changed while it was released; retry", location="path.hold_id")
        if row.released:
            return
        status = await session.scalar(_HOLD_STATUS, params)
        if status is None:
            raise NotFound(f"no hold {hold_id} of yours", location="path.hold_id")
        if status in ("released", "expired"):
            return
        if status != "held":
            raise Conflict(
                f"this hold became a booking ({status}); cancel it with "
                f"POST /v1/bookings/{hold_id}/cancel",
                location="path.hold_id",
                hold_status=status,
            )
        # Still held: a renewal moved its expiry while this release waited; try again.
    raise Conflict("the hold kept changing while it was released; retry", location="path.hold_id")
