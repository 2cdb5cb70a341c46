"""Slot intake: practice software pushes, syncs, lists and withdraws its own SNP slots.

A push never changes a held or booked slot, and every accepted change writes its outbox event
(`slot.created|updated|cancelled`, for the pushing client, in the site's territory) in the same
transaction. Each call leaves one audit event with counts, never the payload.
"""

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Select, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.errors import NotFound
from app.core.pagination import encode_cursor, keyset
from app.models import Professional, Slot
from app.schemas.slot import SlotOut
from app.services.audit import record as audit
from app.services.outbox.tail import written_with
from app.services.slots.errors import SlotNotFree
from app.services.slots.intake import check_items, external_id_of
from app.services.slots.writes import EVENT_DATA, apply_items

RESULT_STATUSES = ("created", "updated", "unchanged", "rejected", "conflict")
# A 5,000-item batch takes well under a second on a quiet machine, but its COPY is one statement
# that a loaded machine may stretch past the service's default timeout; the batch gets more.
BATCH_STATEMENT_TIMEOUT = "30s"
# The outbox triggers (deliveries, watches) read the batch's 5,000 new events from a transition
# table; at the default 4 MB it spills to temporary files. With 32 MB it stays in memory: the
# event COPY measured 25-30 % faster (EXPLAIN ANALYZE, 3 alternating runs). For this transaction
# only (`set_config(…, true)`).
BATCH_WORK_MEM = "32MB"
_BATCH_SETTINGS = text(
    "SELECT set_config('statement_timeout', :timeout, true), "
    "set_config('work_mem', :work_mem, true)"
)


def _cancel_sql(where: str) -> str:
    # `where` is one of this module's constants; values travel as bound parameters.
    tail = written_with(
        events=f"""
            SELECT 'slot.cancelled', CAST(:source AS uuid), st.territory_id,
                   {EVENT_DATA.format(a="cancelled", r="p.rpps")}
            FROM cancelled JOIN sites st ON st.id = cancelled.site_id
            JOIN professionals p ON p.id = cancelled.professional_id"""  # noqa: S608
    )
    return f"""
        WITH cancelled AS (
            UPDATE slots s SET status = 'cancelled', version = s.version + 1, updated_at = now()
            WHERE s.source_client_id = :source AND s.status = 'free' AND {where}
            RETURNING s.*
        ), {tail}
        SELECT id, external_id, status FROM cancelled ORDER BY start_at, id
    """  # noqa: S608


_IN_WINDOW_UNLISTED = (
    "s.start_at >= :window_start AND s.start_at < :window_end "
    "AND NOT (s.external_id = ANY(CAST(:listed AS text[])))"
)
_CANCEL_UNLISTED = text(_cancel_sql(_IN_WINDOW_UNLISTED))
_CANCEL_ONE = text(_cancel_sql("s.external_id = :external_id"))
_HELD_OR_BOOKED_UNLISTED = text(
    f"""
    SELECT id, external_id, status FROM slots s
    WHERE s.source_client_id = :source AND s.status IN ('held', 'booked')
      AND {_IN_WINDOW_UNLISTED}
    ORDER BY start_at, id
    """  # noqa: S608
)


async def push_slots(
    session: AsyncSession,
    principal: Principal,
    raw_items: Sequence[Any],
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Upsert a batch by (source, external_id); one result per item, in the body's order.

    Valid items are applied even when others are rejected; held or booked slots are `conflict`.
    """
    answer = await _upsert(session, principal, raw_items, now)
    await _audit(session, principal, "slots.push", len(raw_items), answer["counts"])
    return answer


async def sync_slots(
    session: AsyncSession,
    principal: Principal,
    raw_items: Sequence[Any],
    window_start: datetime,
    window_end: datetime,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Upsert like a push, and cancel this source's free slots starting in the window that the
    body no longer lists; held and booked ones are reported (`untouched`), never changed.

    An item whose external_id is present but that is rejected still counts as listed: its
    stored slot is kept, not cancelled. Cancelling comes first, so items may take the freed time.
    """
    listed = sorted({eid for eid in map(external_id_of, raw_items) if eid is not None})
    window = {
        "source": principal.client_id,
        "window_start": window_start,
        "window_end": window_end,
        "listed": listed,
    }
    cancelled = [dict(r._mapping) for r in await session.execute(_CANCEL_UNLISTED, window)]
    untouched = [dict(r._mapping) for r in await session.execute(_HELD_OR_BOOKED_UNLISTED, window)]
    answer = await _upsert(session, principal, raw_items, now)
    answer["counts"]["cancelled"] = len(cancelled)
    answer["cancelled"] = [_ref(r) for r in cancelled]
    answer["untouched"] = [_ref(r) for r in untouched]
    await _audit(
        session,
        principal,
        "slots.sync",
        len(raw_items),
        {**answer["counts"], "untouched": len(untouched)},
    )
    return answer


async def cancel_slot(session: AsyncSession, principal: Principal, external_id: str) -> None:
    """Withdraw one of this client's free slots; 409 if held or booked, 404 if not its own.

    Cancelling an already cancelled slot changes nothing (DELETE is idempotent).
    """
    params = {"source": principal.client_id, "external_id": external_id}
    cancelled = (await session.execute(_CANCEL_ONE, params)).first()
    if cancelled is None:
        status = await session.scalar(
            select(Slot.status).where(
                Slot.source_client_id == principal.client_id, Slot.external_id == external_id
            )
        )
        if status is None:
            raise NotFound(f"this client has no slot with external_id {external_id!r}")
        if status in ("held", "booked"):
            raise SlotNotFree(
                f"the slot is {status}: cancel the booking first", location="external_id"
            )
        return
    await audit.record(
        session,
        principal,
        "slots.cancel",
        "slot",
        cancelled.id,
        detail={"counts": {"cancelled": 1}},
    )


async def list_slots(
    session: AsyncSession,
    principal: Principal,
    *,
    cursor: str | None,
    limit: int,
    status: str | None = None,
    professional_rpps: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[list[SlotOut], str | None]:
    """This client's own slots by start time; `start`/`end` keep slots overlapping that window."""
    query = (
        select(Slot, Professional.rpps)
        .join(Professional, Professional.id == Slot.professional_id)
        .where(Slot.source_client_id == principal.client_id)
    )
    if status is not None:
        query = query.where(Slot.status == status)
    if professional_rpps is not None:
        query = query.where(Professional.rpps == professional_rpps)
    if start is not None:
        query = query.where(Slot.end_at > start)
    if end is not None:
        query = query.where(Slot.start_at < end)
    paged = keyset(cast("Select[Any]", query), Slot.start_at, Slot.id, cursor, limit)
    rows = (await session.execute(paged)).all()
    items = [_slot_out(slot, rpps) for slot, rpps in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1][0]
        next_cursor = encode_cursor(last.start_at, last.id)
    return items, next_cursor


async def _upsert(
    session: AsyncSession, principal: Principal, raw_items: Sequence[Any], now: datetime | None
) -> dict[str, Any]:
    candidates, results = check_items(raw_items, now or datetime.now(UTC))
    if candidates:
        await session.execute(
            _BATCH_SETTINGS, {"timeout": BATCH_STATEMENT_TIMEOUT, "work_mem": BATCH_WORK_MEM}
        )
        results.update(await apply_items(session, principal, candidates))
    ordered = [results[i] for i in range(len(raw_items))]
    counted = Counter(r["status"] for r in ordered)
    return {"results": ordered, "counts": {s: counted.get(s, 0) for s in RESULT_STATUSES}}


async def _audit(
    session: AsyncSession, principal: Principal, action: str, items: int, counts: dict[str, int]
) -> None:
    await audit.record(
        session, principal, action, "slot", None, detail={"items": items, "counts": counts}
    )


def _ref(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(row["id"]), "external_id": row["external_id"], "status": row["status"]}


def _slot_out(slot: Slot, rpps: str) -> SlotOut:
    return SlotOut(
        id=slot.id,
        external_id=slot.external_id,
        professional_id=slot.professional_id,
        professional_rpps=rpps,
        site_id=slot.site_id,
        start=slot.start_at,
        end=slot.end_at,
        modality=slot.modality,
        labels=slot.labels,
        booking_url=slot.booking_url,
        status=slot.status,
        hold_expires_at=slot.hold_expires_at,
        version=slot.version,
        created_at=slot.created_at,
        updated_at=slot.updated_at,
    )
