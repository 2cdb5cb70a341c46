"""A batch of resolved slot rows as bound arrays: one parameter a column, one round trip a batch.

`ROWS` unnests them back into a relation `i` for set-based SQL; `COLUMNS` and `record` give the
same rows to COPY. Every statement that uses them is assembled from constants of the slot
services: no client input is spliced into SQL.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.schemas.slot import SlotItem


@dataclass(slots=True)
class ResolvedItem:
    """A checked item resolved against the database: what to write."""

    index: int
    item: SlotItem
    professional_id: uuid.UUID
    territory_id: uuid.UUID
    slot_id: uuid.UUID | None
    digest: bytes  # `slot_digest` of what this item stores


# The columns of `slots` that a push writes, in COPY order.
COLUMNS = (
    "id",
    "source_client_id",
    "external_id",
    "professional_id",
    "site_id",
    "start_at",
    "end_at",
    "modality",
    "labels",
    "booking_url",
    "digest",
)

ROWS = """
    unnest(CAST(:idx AS int[]), CAST(:slot_id AS uuid[]), CAST(:external_id AS text[]),
           CAST(:professional_id AS uuid[]), CAST(:site_id AS uuid[]),
           CAST(:start_at AS timestamptz[]), CAST(:end_at AS timestamptz[]),
           CAST(:modality AS text[]), CAST(:labels AS text[]), CAST(:booking_url AS text[]),
           CAST(:rpps AS text[]), CAST(:territory_id AS uuid[]), CAST(:digest AS bytea[]))
    AS i(idx, slot_id, external_id, professional_id, site_id, start_at, end_at, modality,
         labels, booking_url, rpps, territory_id, digest)
"""
# `labels` travel joined by commas (a text[][] cannot be unnested row by row).
LABELS = "string_to_array(i.labels, ',')"


def arrays(source: uuid.UUID, rows: Sequence[ResolvedItem]) -> dict[str, Any]:
    """The bound parameters of `ROWS` (and `:source`) for `rows`."""
    return {
        "source": source,
        "idx": [r.index for r in rows],
        "slot_id": [r.slot_id for r in rows],
        "external_id": [r.item.external_id for r in rows],
        "professional_id": [r.professional_id for r in rows],
        "site_id": [r.item.site_id for r in rows],
        "start_at": [r.item.start for r in rows],
        "end_at": [r.item.end for r in rows],
        "modality": [r.item.modality for r in rows],
        "labels": [",".join(r.item.labels) for r in rows],
        "booking_url": [r.item.booking_url for r in rows],
        "rpps": [r.item.professional_rpps for r in rows],
        "territory_id": [r.territory_id for r in rows],
        "digest": [r.digest for r in rows],
    }


def record(source: uuid.UUID, r: ResolvedItem) -> tuple[Any, ...]:
    """`r` as a COPY record in `COLUMNS` order (its `slot_id` already chosen)."""
    item = r.item
    return (
        r.slot_id,
        source,
        item.external_id,
        r.professional_id,
        item.site_id,
        item.start,
        item.end,
        item.modality,
        item.labels,
        item.booking_url,
        r.digest,
    )
