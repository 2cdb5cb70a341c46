"""Where a slot's overlap is refused: no two active slots of a professional overlap.

The exclusion constraint `ex_slots_professional_overlap` is the judge. Before it, overlaps inside
a batch are settled in the body's order (`overlapping_in_batch`), and moves carry a guard
(`OVERLAP_GUARD`) so that one refused row does not fail the whole statement; `overlap` is the
answer a refused item gets.
"""

import uuid
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy.exc import IntegrityError

from app.services.slots.results import rejected
from app.services.slots.rows import ResolvedItem

OVERLAP_GUARD = """
    AND NOT EXISTS (
        SELECT 1 FROM slots o
        WHERE o.professional_id = i.professional_id AND o.status <> 'cancelled' AND o.id <> s.id
          AND tstzrange(o.start_at, o.end_at) && tstzrange(i.start_at, i.end_at))
"""


def overlap(row: ResolvedItem, other: str | None, *, in_batch: bool) -> dict[str, Any]:
    if in_batch:
        detail = "overlaps an earlier item of this batch for the same professional"
    elif other is not None:
        detail = f"overlaps the active slot {other!r} of the same professional"
    else:
        detail = "overlaps another active slot of the same professional"
    return rejected(row.index, row.item.external_id, "slot-overlap", detail)


def overlapping_in_batch(rows: Iterable[ResolvedItem]) -> list[ResolvedItem]:
    """Rows whose new times overlap an earlier item of the same batch and professional."""
    taken: dict[uuid.UUID, list[tuple[Any, Any]]] = defaultdict(list)
    losers: list[ResolvedItem] = []
    for row in sorted(rows, key=lambda r: r.index):
        spans = taken[row.professional_id]
        at = bisect_left(spans, (row.item.start, row.item.end))
        before = spans[at - 1] if at else None
        after = spans[at] if at < len(spans) else None
        if (before and before[1] > row.item.start) or (after and after[0] < row.item.end):
            losers.append(row)
        else:
            spans.insert(at, (row.item.start, row.item.end))
    return losers


def is_overlap_or_duplicate(exc: IntegrityError) -> bool:
    """An exclusion (23P01) or unique (23505) violation: what a concurrent push can cause."""
    return getattr(exc.orig, "sqlstate", None) in ("23P01", "23505")
