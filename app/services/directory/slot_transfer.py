"""Handing a practice software's slots to another client, so that a practice can change software.

Rules:
- Every slot of the source moves, whatever its status or time: the (source, external id) pair
  is the practice's agenda identity, so after the transfer the new software's push of the same
  agenda updates those slots instead of overlapping them, it reports the bookings (fulfilled,
  no-show) and receives their events, and nothing is left addressed to the old client. Slot
  ids do not change, so holds and bookings keep pointing at their slots.
- The target is another active practice_software client that may write for every professional
  of those slots (else 422 on `body.to_client_id`, naming the professionals to link).
- An external id the target already uses is a collision: 409 with the colliding ids, nothing
  moves (the unique constraint decides, inside a savepoint).
- One statement moves the slots (locked in external id order, as a push locks them), writes a
  `slot.transferred` event per slot to each of the two clients (the old one learns it lost the
  slot, the new one that it owns it) and the audit event.
"""

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.errors import Conflict, InvalidInput
from app.schemas.api_client import SlotsTransferred
from app.services.audit import record as audit
from app.services.directory.api_clients import get_client
from app.services.outbox.tail import written_with
from app.services.slots.writes import EVENT_DATA

COLLISIONS_SHOWN = 100


class ExternalIdCollision(Conflict):
    slug, title = "external-id-collision", "The target client already uses these external ids"


_TARGET = text("SELECT role, active FROM api_clients WHERE id = :to")

# The professionals of the source's slots that the target may not write for.
_UNLINKED = text(
    """
    SELECT DISTINCT s.professional_id FROM slots s
    WHERE s.source_client_id = :from
      AND NOT EXISTS (SELECT 1 FROM api_client_professionals cp
                      WHERE cp.client_id = :to AND cp.professional_id = s.professional_id)
    ORDER BY 1
    """
)

_COLLISIONS = text(
    """
    SELECT s.external_id FROM slots s
    WHERE s.source_client_id = :from
      AND EXISTS (SELECT 1 FROM slots t
                  WHERE t.source_client_id = :to AND t.external_id = s.external_id)
    ORDER BY 1
    """
)

_TRANSFER_TAIL = written_with(
    events=f"""
        SELECT 'slot.transferred', r.recipient, place.territory_id,
               {EVENT_DATA.format(a="place", r="place.rpps")}
               || jsonb_build_object('from_client_id', CAST(:from AS uuid),
                                     'to_client_id', CAST(:to AS uuid))
        FROM place CROSS JOIN (VALUES (CAST(:from AS uuid)), (CAST(:to AS uuid))) AS r(recipient)
    """,  # noqa: S608
    audit="""
        SELECT CAST(:actor_id AS uuid), CAST(:actor AS text), 'client.transfer_slots',
               'api_client', CAST(:from AS text), CAST(NULL AS uuid),
               jsonb_build_object('to_client_id', CAST(:to AS uuid),
                                  'transferred', (SELECT count(*) FROM place),
                                  'by_status', (SELECT coalesce(jsonb_object_agg(status, n), '{}')
                                                FROM (SELECT status, count(*) AS n FROM place
                                                      GROUP BY status) AS c))
    """,
)

_TRANSFER = text(
    f"""
    WITH locked AS (
        SELECT s.id FROM slots s WHERE s.source_client_id = :from
        ORDER BY s.external_id
        FOR UPDATE
    ), moved AS (
        UPDATE slots s
        SET source_client_id = :to, version = s.version + 1, updated_at = now()
        FROM locked WHERE s.id = locked.id
        RETURNING s.*
    ), place AS (
        SELECT moved.*, p.rpps, si.territory_id
        FROM moved JOIN professionals p ON p.id = moved.professional_id
        JOIN sites si ON si.id = moved.site_id
    ), {_TRANSFER_TAIL}
    SELECT status, count(*) AS n FROM place GROUP BY status
    """  # noqa: S608 (built from constants only)
)


async def _check_target(
    session: AsyncSession, from_id: uuid.UUID, to_id: uuid.UUID, params: dict[str, Any]
) -> None:
    where = "body.to_client_id"
    target = (await session.execute(_TARGET, params)).one_or_none()
    if to_id == from_id:
        raise InvalidInput("the slots already belong to this client", location=where)
    if target is None:
        raise InvalidInput(f"no API client {to_id}", location=where)
    if target.role != "practice_software" or not target.active:
        raise InvalidInput("the target must be an active practice_software client", location=where)
    unlinked = [str(p) for p in (await session.scalars(_UNLINKED, params)).all()]
    if unlinked:
        raise InvalidInput(
            "the target client may not write for every professional of these slots; "
            f"link it to: {', '.join(unlinked)}",
            location=where,
            professional_ids=unlinked,
        )


async def transfer_slots(
    session: AsyncSession, actor: Principal, from_id: uuid.UUID, to_id: uuid.UUID
) -> SlotsTransferred:
    """Hand every slot of `from_id` to `to_id` (see the module's rules)."""
    source = await get_client(session, from_id)
    if source.role != "practice_software":
        raise InvalidInput("only a practice_software client has slots", location="path.client_id")
    params: dict[str, Any] = {"from": from_id, "to": to_id}
    await _check_target(session, from_id, to_id, params)
    try:
        async with session.begin_nested():
            rows = (await session.execute(_TRANSFER, {**params, **audit.actor_params(actor)})).all()
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) != "23505":
            raise
        colliding = list((await session.scalars(_COLLISIONS, params)).all())
        raise ExternalIdCollision(
            f"{len(colliding)} external id(s) of the source are already used by the target; "
            "nothing was transferred",
            location="body.to_client_id",
            external_ids=colliding[:COLLISIONS_SHOWN],
            collisions=len(colliding),
        ) from None
    by_status = {row.status: row.n for row in rows}
    return SlotsTransferred(
        from_client_id=from_id,
        to_client_id=to_id,
        transferred=sum(by_status.values()),
        by_status=by_status,
    )
