"""Apply checked slot items to the database, set-based: a constant number of statements a batch.

Order inside the caller's transaction: (1) two queries resolve the professionals and sites and
read the source's existing rows' digests and statuses, unlocked (an unchanged item, equal
digest, is settled there and then: it reads four columns and writes nothing); (2) only the rows
that may change are locked and read in full; (3) in-place updates; (4) moves, guarded against
overlap; (5) inserts (`slots.inserts`, one COPY). Updates write their outbox events in the same
statement (a data-modifying CTE). The exclusion constraint `ex_slots_professional_overlap` stays
the judge of overlaps; overlaps inside the batch are settled first, in the body's order.
"""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.models.slot import digest_prefix, slot_digest
from app.services.outbox.events import driver_connection
from app.services.outbox.tail import written_with
from app.services.slots.inserts import insert_new
from app.services.slots.intake import CheckedItem
from app.services.slots.overlap import (
    OVERLAP_GUARD,
    is_overlap_or_duplicate,
    overlap,
    overlapping_in_batch,
)
from app.services.slots.results import landed, rejected, result
from app.services.slots.rows import LABELS, ROWS, ResolvedItem, arrays

# Every statement below is assembled from constants of the slot services: no client input is
# spliced into SQL (values travel as bound arrays).

# The public fields of a slot, as events carry them; `{a}` is the row alias, `{r}` the RPPS.
EVENT_DATA = (
    "jsonb_build_object('id', {a}.id, 'external_id', {a}.external_id, "
    "'professional_id', {a}.professional_id, 'professional_rpps', {r}, 'site_id', {a}.site_id, "
    "'start', {a}.start_at, 'end', {a}.end_at, 'modality', {a}.modality, 'labels', {a}.labels, "
    "'booking_url', {a}.booking_url, 'status', {a}.status, 'version', {a}.version)"
)

# One row per distinct (RPPS, site) pair of the batch: a few hundred lookups, not 5,000.
_REFERENCES = text(
    """
    SELECT k.rpps, k.site_id, p.id AS professional_id, p.active AS professional_active,
           st.id IS NOT NULL AS site_known, (st.active AND te.active) AS site_open,
           st.territory_id, sp.professional_id IS NOT NULL AS works_there
    FROM unnest(CAST(:rpps AS text[]), CAST(:site_id AS uuid[])) AS k(rpps, site_id)
    LEFT JOIN professionals p ON p.rpps = k.rpps
    LEFT JOIN sites st ON st.id = k.site_id
    LEFT JOIN territories te ON te.id = st.territory_id
    LEFT JOIN site_professionals sp ON sp.site_id = k.site_id AND sp.professional_id = p.id
    """
)

# The source's stored rows for the batch's external ids, unlocked and only what tells an
# unchanged item (its digest) or a held or booked one from the rest: one unique-index probe a
# key, whatever the table's size. Nothing is decided on it that a concurrent change could
# make wrong: an unchanged or conflicting item writes nothing (the push is ordered before a
# hold that commits after this snapshot), and every other item is re-read locked below.
_STORED = """
    SELECT s.external_id, s.id, s.status, s.digest
    FROM unnest($2::text[]) AS k(external_id)
    JOIN slots s ON s.source_client_id = $1 AND s.external_id = k.external_id
"""

# The stored rows that the push may change, locked (in external id order, so two pushes of
# one source cannot deadlock) until the transaction ends: a hold cannot slip between this read
# and the writes, and the rows are judged again as they are now.
_EXISTING = text(
    """
    SELECT s.* FROM unnest(CAST(:external_id AS text[])) AS k(external_id)
    CROSS JOIN LATERAL (
        SELECT id, external_id, status, professional_id, site_id, start_at, end_at, modality,
               labels, booking_url, digest
        FROM slots
        WHERE source_client_id = :source AND external_id = k.external_id
        FOR UPDATE
    ) s
    """
)


def _update_sql(guarded: bool) -> str:
    tail = written_with(
        events=f"""
            SELECT 'slot.updated', CAST(:source AS uuid), territory_id,
                   {EVENT_DATA.format(a="changed", r="changed.rpps")}
            FROM changed"""  # noqa: S608
    )
    return f"""
        WITH i AS (SELECT * FROM {ROWS}), changed AS (
            UPDATE slots s
            SET professional_id = i.professional_id, site_id = i.site_id,
                start_at = i.start_at, end_at = i.end_at, modality = i.modality,
                labels = {LABELS}, booking_url = i.booking_url, digest = i.digest,
                status = 'free', version = s.version + 1, updated_at = now()
            FROM i
            WHERE s.id = i.slot_id AND s.status IN ('free', 'cancelled')
            {OVERLAP_GUARD if guarded else ""}
            RETURNING s.*, i.rpps, i.territory_id
        ), {tail}
        SELECT idx, changed.id FROM changed JOIN i ON i.slot_id = changed.id
    """  # noqa: S608


_UPDATE = text(_update_sql(guarded=False))
_MOVE = text(_update_sql(guarded=True))


async def apply_items(
    session: AsyncSession, principal: Principal, candidates: Sequence[CheckedItem]
) -> dict[int, dict[str, Any]]:
    """Upsert `candidates` for `principal` and return each one's result by index.

    Rules: the professional is known, active and linked to this client, and works at the
    site; the site and its territory are active; a held or booked slot is never changed
    (`conflict`); a push equal to the stored slot writes nothing (`unchanged`); no two active
    slots of a professional overlap (the exclusion constraint decides).
    """
    if not candidates:
        return {}
    source = principal.client_id
    results: dict[int, dict[str, Any]] = {}
    inplace: list[ResolvedItem] = []
    moves: list[ResolvedItem] = []
    news: list[ResolvedItem] = []
    pairs = sorted({(c.item.professional_rpps, c.item.site_id) for c in candidates})
    # Each pair is judged once, not once an item (5,000 items share a few hundred pairs).
    references = {
        (r.rpps, r.site_id): (
            r,
            _reference_problem(r, principal),
            r.professional_id and digest_prefix(r.professional_id, r.site_id),
        )
        for r in await session.execute(
            _REFERENCES, {"rpps": [p[0] for p in pairs], "site_id": [p[1] for p in pairs]}
        )
    }
    # Read straight from the driver: 5,000 records without a result layer over them.
    driver = await driver_connection(session)
    stored = {
        r["external_id"]: r
        for r in await driver.fetch(_STORED, source, [c.item.external_id for c in candidates])
    }
    to_lock: list[ResolvedItem] = []
    for candidate in candidates:
        index, item = candidate.index, candidate.item
        ref, problem, prefix = references[(item.professional_rpps, item.site_id)]
        if problem is not None:
            results[index] = rejected(index, item.external_id, *problem)
            continue
        digest = slot_digest(
            ref.professional_id,
            item.site_id,
            item.start,
            item.end,
            item.modality,
            item.labels,
            item.booking_url,
            prefix=prefix,
        )
        old = stored.get(item.external_id)
        row = ResolvedItem(index, item, ref.professional_id, ref.territory_id, None, digest)
        if old is None:
            news.append(row)
            continue
        row.slot_id = old["id"]
        status = old["status"]
        if status in ("held", "booked"):
            results[index] = _conflict(row, status)
        elif status == "free" and old["digest"] == digest:
            results[index] = result(index, item.external_id, "unchanged", row.slot_id)
        else:
            to_lock.append(row)
    if to_lock:
        locked = {
            r.external_id: r
            for r in await session.execute(
                _EXISTING,
                {"source": source, "external_id": sorted(r.item.external_id for r in to_lock)},
            )
        }
        for row in to_lock:
            index, item = row.index, row.item
            now = locked.get(item.external_id)
            if now is None:  # gone since the snapshot (slots are not deleted today)
                news.append(row)
            elif now.status in ("held", "booked"):
                results[index] = _conflict(row, now.status)
            elif now.status == "free" and _same(now, row):
                results[index] = result(index, item.external_id, "unchanged", now.id)
            elif (
                now.status == "free"
                and now.professional_id == row.professional_id
                and (now.start_at, now.end_at) == (item.start, item.end)
            ):
                inplace.append(row)
            else:
                moves.append(row)
    for row in overlapping_in_batch([*moves, *news]):
        results[row.index] = overlap(row, None, in_batch=True)
    moves = [r for r in moves if r.index not in results]
    news = [r for r in news if r.index not in results]
    if inplace:
        done = await _update(session, source, inplace, guarded=False)
        results.update(landed(inplace, done, "updated"))
    if moves:
        done = await _move(session, source, moves)
        results.update(landed(moves, done, "updated"))
        for row in moves:
            if row.index not in done:
                results[row.index] = overlap(row, None, in_batch=False)
    if news:
        results.update(await insert_new(session, source, news))
    return results


def _reference_problem(r: Any, principal: Principal) -> tuple[str, str] | None:
    if r.professional_id is None:
        return "unknown-professional", "no professional has this RPPS number"
    if r.professional_id not in principal.professional_ids:
        return "professional-not-linked", "this client may not push slots for this professional"
    if not r.professional_active:
        return "inactive-professional", "this professional is deactivated"
    if not r.site_known:
        return "unknown-site", "no site has this id"
    if not r.site_open:
        return "inactive-site", "this site, or its territory, is deactivated"
    if not r.works_there:
        return "professional-not-at-site", "this professional does not work at this site"
    return None


def _same(old: Any, row: ResolvedItem) -> bool:
    """The locked row holds what `row` would store: by digest, by the columns if it has none."""
    if old.digest is not None:
        return bool(old.digest == row.digest)
    item = row.item
    return (
        old.professional_id == row.professional_id
        and old.site_id == item.site_id
        and (old.start_at, old.end_at) == (item.start, item.end)
        and old.modality == item.modality
        and sorted(set(old.labels)) == item.labels
        and old.booking_url == item.booking_url
    )


def _conflict(row: ResolvedItem, status: str) -> dict[str, Any]:
    return result(
        row.index,
        row.item.external_id,
        "conflict",
        row.slot_id,
        slug="slot-not-free",
        detail=f"the slot is {status}: a push may not change it; it was left as is",
        location=f"slots[{row.index}]",
    )


async def _update(
    session: AsyncSession, source: uuid.UUID, rows: Sequence[ResolvedItem], *, guarded: bool
) -> dict[int, uuid.UUID]:
    statement = _MOVE if guarded else _UPDATE
    done = await session.execute(statement, arrays(source, rows))
    return {idx: slot_id for idx, slot_id in done}


async def _move(
    session: AsyncSession, source: uuid.UUID, rows: Sequence[ResolvedItem]
) -> dict[int, uuid.UUID]:
    """Moves in one statement; if a concurrent write makes the constraint refuse one, one by one."""
    try:
        async with session.begin_nested():
            return await _update(session, source, rows, guarded=True)
    except IntegrityError as exc:
        if not is_overlap_or_duplicate(exc):
            raise
    done: dict[int, uuid.UUID] = {}
    for row in rows:
        try:
            async with session.begin_nested():
                done.update(await _update(session, source, [row], guarded=True))
        except IntegrityError as exc:
            if not is_overlap_or_duplicate(exc):
                raise
    return done
