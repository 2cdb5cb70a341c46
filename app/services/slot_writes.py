"""Apply checked slot items to the database, set-based: a constant number of statements a batch.

Order inside the caller's transaction: (1) one query resolves every item's professional and site
and locks the source's existing rows; (2) in-place updates; (3) moves, guarded against overlap;
(4) inserts. Each write statement also writes its outbox events (a data-modifying CTE). The
exclusion constraint `ex_slots_professional_overlap` stays the judge of overlaps: inserts are
first tried plainly (one constraint check a row) and, only if the database refuses one, redone
with ON CONFLICT DO NOTHING to learn which items did not land and why.
"""

import uuid
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.services import outbox
from app.services.slot_intake import Candidate, rejected, result

# Every statement below is assembled from constants of this module: no client input is spliced
# into SQL (values travel as bound arrays).

# The public fields of a slot, as events carry them; `{a}` is the row alias, `{r}` the RPPS.
EVENT_DATA = (
    "jsonb_build_object('id', {a}.id, 'external_id', {a}.external_id, "
    "'professional_id', {a}.professional_id, 'professional_rpps', {r}, 'site_id', {a}.site_id, "
    "'start', {a}.start_at, 'end', {a}.end_at, 'modality', {a}.modality, 'labels', {a}.labels, "
    "'booking_url', {a}.booking_url, 'status', {a}.status, 'version', {a}.version)"
)

_RESOLVE = text(
    """
    WITH item AS (
        SELECT * FROM unnest(CAST(:idx AS int[]), CAST(:external_id AS text[]),
                             CAST(:rpps AS text[]), CAST(:site_id AS uuid[]))
                 AS t(idx, external_id, rpps, site_id)
    ), existing AS (
        SELECT id, external_id, status, professional_id, site_id, start_at, end_at, modality,
               labels, booking_url
        FROM slots
        WHERE source_client_id = :source AND external_id = ANY(CAST(:external_id AS text[]))
        ORDER BY id
        FOR UPDATE
    )
    SELECT i.idx, p.id AS professional_id, p.active AS professional_active,
           st.id IS NOT NULL AS site_known, (st.active AND te.active) AS site_open,
           st.territory_id, st.lat, st.lon, sp.professional_id IS NOT NULL AS works_there,
           e.id AS slot_id, e.status, e.professional_id AS old_professional_id,
           e.site_id AS old_site_id, e.start_at AS old_start, e.end_at AS old_end,
           e.modality AS old_modality, e.labels AS old_labels, e.booking_url AS old_booking_url
    FROM item i
    LEFT JOIN professionals p ON p.rpps = i.rpps
    LEFT JOIN sites st ON st.id = i.site_id
    LEFT JOIN territories te ON te.id = st.territory_id
    LEFT JOIN site_professionals sp ON sp.site_id = i.site_id AND sp.professional_id = p.id
    LEFT JOIN existing e ON e.external_id = i.external_id
    """
)

_ROWS = """
    SELECT * FROM unnest(CAST(:idx AS int[]), CAST(:slot_id AS uuid[]),
                         CAST(:external_id AS text[]), CAST(:professional_id AS uuid[]),
                         CAST(:site_id AS uuid[]), CAST(:start_at AS timestamptz[]),
                         CAST(:end_at AS timestamptz[]), CAST(:modality AS text[]),
                         CAST(:labels AS text[]), CAST(:booking_url AS text[]),
                         CAST(:lat AS float8[]), CAST(:lon AS float8[]), CAST(:rpps AS text[]),
                         CAST(:territory_id AS uuid[]))
             AS t(idx, slot_id, external_id, professional_id, site_id, start_at, end_at,
                  modality, labels, booking_url, lat, lon, rpps, territory_id)
"""

_OVERLAP_GUARD = """
    AND NOT EXISTS (
        SELECT 1 FROM slots o
        WHERE o.professional_id = i.professional_id AND o.status <> 'cancelled' AND o.id <> s.id
          AND tstzrange(o.start_at, o.end_at) && tstzrange(i.start_at, i.end_at))
"""


def _update_sql(guarded: bool) -> str:
    events = outbox.insert_from(
        f"""(SELECT 'slot.updated' AS type, CAST(:source AS uuid) AS recipient_client_id,
                    territory_id, {EVENT_DATA.format(a="changed", r="changed.rpps")} AS data
             FROM changed) AS e"""  # noqa: S608
    )
    return f"""
        WITH i AS ({_ROWS}), changed AS (
            UPDATE slots s
            SET professional_id = i.professional_id, site_id = i.site_id,
                start_at = i.start_at, end_at = i.end_at, modality = i.modality,
                labels = string_to_array(i.labels, ','), booking_url = i.booking_url,
                lat = i.lat, lon = i.lon, status = 'free', version = s.version + 1,
                updated_at = now()
            FROM i
            WHERE s.id = i.slot_id AND s.status IN ('free', 'cancelled')
            {_OVERLAP_GUARD if guarded else ""}
            RETURNING s.*, i.rpps, i.territory_id
        ), events AS ({events})
        SELECT idx, changed.id FROM changed JOIN i ON i.slot_id = changed.id
    """  # noqa: S608


def _insert_sql(on_conflict: str) -> str:
    events = outbox.insert_from(
        f"""(SELECT 'slot.created' AS type, CAST(:source AS uuid) AS recipient_client_id,
                    i.territory_id, {EVENT_DATA.format(a="created", r="i.rpps")} AS data
             FROM created JOIN i ON i.external_id = created.external_id) AS e"""  # noqa: S608
    )
    return f"""
        WITH i AS ({_ROWS}), created AS (
            INSERT INTO slots (source_client_id, external_id, professional_id, site_id,
                               start_at, end_at, modality, labels, booking_url, lat, lon)
            SELECT CAST(:source AS uuid), external_id, professional_id, site_id, start_at,
                   end_at, modality, string_to_array(labels, ','), booking_url, lat, lon
            FROM i ORDER BY idx
            {on_conflict}
            RETURNING *
        ), events AS ({events})
        SELECT idx, created.id FROM created JOIN i ON i.external_id = created.external_id
    """  # noqa: S608


_UPDATE = text(_update_sql(guarded=False))
_MOVE = text(_update_sql(guarded=True))
_INSERT = text(_insert_sql(""))
_INSERT_SKIPPING = text(_insert_sql("ON CONFLICT DO NOTHING"))

_WHY_NOT_INSERTED = text(
    """
    SELECT i.idx,
           EXISTS (SELECT 1 FROM slots k WHERE k.source_client_id = :source
                   AND k.external_id = i.external_id) AS key_taken,
           (SELECT CASE WHEN o.source_client_id = :source THEN o.external_id END
            FROM slots o
            WHERE o.professional_id = i.professional_id AND o.status <> 'cancelled'
              AND tstzrange(o.start_at, o.end_at) && tstzrange(i.start_at, i.end_at)
            LIMIT 1) AS overlapping
    FROM unnest(CAST(:idx AS int[]), CAST(:external_id AS text[]),
                CAST(:professional_id AS uuid[]), CAST(:start_at AS timestamptz[]),
                CAST(:end_at AS timestamptz[]))
         AS i(idx, external_id, professional_id, start_at, end_at)
    """
)


@dataclass(slots=True)
class _Row:
    """A candidate resolved against the database: what to write."""

    item: Candidate
    professional_id: uuid.UUID
    territory_id: uuid.UUID
    lat: float
    lon: float
    slot_id: uuid.UUID | None


async def apply_items(
    session: AsyncSession, principal: Principal, candidates: Sequence[Candidate]
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
    inplace: list[_Row] = []
    moves: list[_Row] = []
    news: list[_Row] = []
    by_index = {c.index: c for c in candidates}
    resolved = await session.execute(
        _RESOLVE,
        {
            "source": source,
            "idx": [c.index for c in candidates],
            "external_id": [c.external_id for c in candidates],
            "rpps": [c.rpps for c in candidates],
            "site_id": [c.site_id for c in candidates],
        },
    )
    for r in resolved:
        item = by_index[r.idx]
        problem = _reference_problem(r, principal)
        if problem is not None:
            results[item.index] = rejected(item.index, item.external_id, *problem)
            continue
        row = _Row(item, r.professional_id, r.territory_id, r.lat, r.lon, r.slot_id)
        if r.slot_id is None:
            news.append(row)
        elif r.status in ("held", "booked"):
            results[item.index] = result(
                item.index,
                item.external_id,
                "conflict",
                r.slot_id,
                slug="slot-not-free",
                detail=f"the slot is {r.status}: a push may not change it; it was left as it is",
                location=f"slots[{item.index}]",
            )
        elif r.status == "free" and _same(r, item):
            results[item.index] = result(item.index, item.external_id, "unchanged", r.slot_id)
        elif (
            r.status == "free"
            and r.old_professional_id == r.professional_id
            and (r.old_start, r.old_end) == (item.start, item.end)
        ):
            inplace.append(row)
        else:
            moves.append(row)
    for row in _overlapping_in_batch([*moves, *news]):
        results[row.item.index] = _overlap(row.item, None, in_batch=True)
    moves = [r for r in moves if r.item.index not in results]
    news = [r for r in news if r.item.index not in results]
    if inplace:
        done = await _update(session, source, inplace, guarded=False)
        results.update(_landed(inplace, done, "updated"))
    if moves:
        done = await _move(session, source, moves)
        results.update(_landed(moves, done, "updated"))
        for row in moves:
            if row.item.index not in done:
                results[row.item.index] = _overlap(row.item, None, in_batch=False)
    if news:
        results.update(await _insert(session, source, news))
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


def _same(r: Any, item: Candidate) -> bool:
    return (
        r.old_professional_id == r.professional_id
        and r.old_site_id == item.site_id
        and (r.old_start, r.old_end) == (item.start, item.end)
        and r.old_modality == item.modality
        and sorted(set(r.old_labels)) == item.labels
        and r.old_booking_url == item.booking_url
    )


def _overlapping_in_batch(rows: Iterable[_Row]) -> list[_Row]:
    """Rows whose new times overlap an earlier item of the same batch and professional."""
    taken: dict[uuid.UUID, list[tuple[Any, Any]]] = defaultdict(list)
    losers: list[_Row] = []
    for row in sorted(rows, key=lambda r: r.item.index):
        spans = taken[row.professional_id]
        at = bisect_left(spans, (row.item.start, row.item.end))
        before = spans[at - 1] if at else None
        after = spans[at] if at < len(spans) else None
        if (before and before[1] > row.item.start) or (after and after[0] < row.item.end):
            losers.append(row)
        else:
            spans.insert(at, (row.item.start, row.item.end))
    return losers


def _overlap(item: Candidate, other: str | None, *, in_batch: bool) -> dict[str, Any]:
    if in_batch:
        detail = "overlaps an earlier item of this batch for the same professional"
    elif other is not None:
        detail = f"overlaps the active slot {other!r} of the same professional"
    else:
        detail = "overlaps another active slot of the same professional"
    return rejected(item.index, item.external_id, "slot-overlap", detail)


def _landed(rows: Sequence[_Row], done: dict[int, uuid.UUID], status: str) -> dict[int, Any]:
    return {
        r.item.index: result(r.item.index, r.item.external_id, status, done[r.item.index])
        for r in rows
        if r.item.index in done
    }


def _params(source: uuid.UUID, rows: Sequence[_Row]) -> dict[str, Any]:
    return {
        "source": source,
        "idx": [r.item.index for r in rows],
        "slot_id": [r.slot_id for r in rows],
        "external_id": [r.item.external_id for r in rows],
        "professional_id": [r.professional_id for r in rows],
        "site_id": [r.item.site_id for r in rows],
        "start_at": [r.item.start for r in rows],
        "end_at": [r.item.end for r in rows],
        "modality": [r.item.modality for r in rows],
        "labels": [",".join(r.item.labels) for r in rows],
        "booking_url": [r.item.booking_url for r in rows],
        "lat": [r.lat for r in rows],
        "lon": [r.lon for r in rows],
        "rpps": [r.item.rpps for r in rows],
        "territory_id": [r.territory_id for r in rows],
    }


async def _update(
    session: AsyncSession, source: uuid.UUID, rows: Sequence[_Row], *, guarded: bool
) -> dict[int, uuid.UUID]:
    statement = _MOVE if guarded else _UPDATE
    done = await session.execute(statement, _params(source, rows))
    return {idx: slot_id for idx, slot_id in done}


async def _move(
    session: AsyncSession, source: uuid.UUID, rows: Sequence[_Row]
) -> dict[int, uuid.UUID]:
    """Moves in one statement; if a concurrent write makes the constraint refuse one, one by one."""
    try:
        async with session.begin_nested():
            return await _update(session, source, rows, guarded=True)
    except IntegrityError as exc:
        if not _is_overlap_or_duplicate(exc):
            raise
    done: dict[int, uuid.UUID] = {}
    for row in rows:
        try:
            async with session.begin_nested():
                done.update(await _update(session, source, [row], guarded=True))
        except IntegrityError as exc:
            if not _is_overlap_or_duplicate(exc):
                raise
    return done


async def _insert(
    session: AsyncSession, source: uuid.UUID, rows: Sequence[_Row]
) -> dict[int, dict[str, Any]]:
    params = _params(source, rows)
    try:
        async with session.begin_nested():
            done = {idx: slot_id for idx, slot_id in await session.execute(_INSERT, params)}
    except IntegrityError as exc:
        if not _is_overlap_or_duplicate(exc):
            raise
        done = {idx: slot_id for idx, slot_id in await session.execute(_INSERT_SKIPPING, params)}
    results = _landed(rows, done, "created")
    missing = [r for r in rows if r.item.index not in done]
    if missing:
        results.update(await _why_not_inserted(session, source, missing))
    return results


async def _why_not_inserted(
    session: AsyncSession, source: uuid.UUID, rows: Sequence[_Row]
) -> dict[int, dict[str, Any]]:
    by_index = {r.item.index: r.item for r in rows}
    found = await session.execute(
        _WHY_NOT_INSERTED,
        {
            "source": source,
            "idx": [r.item.index for r in rows],
            "external_id": [r.item.external_id for r in rows],
            "professional_id": [r.professional_id for r in rows],
            "start_at": [r.item.start for r in rows],
            "end_at": [r.item.end for r in rows],
        },
    )
    out: dict[int, dict[str, Any]] = {}
    for idx, key_taken, overlapping in found:
        item = by_index[idx]
        if key_taken:
            out[idx] = rejected(
                idx,
                item.external_id,
                "concurrent-push",
                "another push created this external_id at the same time; push it again",
            )
        else:
            out[idx] = _overlap(item, overlapping, in_batch=False)
    return out


def _is_overlap_or_duplicate(exc: IntegrityError) -> bool:
    """An exclusion (23P01) or unique (23505) violation: what a concurrent push can cause."""
    return getattr(exc.orig, "sqlstate", None) in ("23P01", "23505")
