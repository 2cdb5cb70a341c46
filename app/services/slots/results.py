"""The per-item answers of a push: one JSON-ready dict an item (created, updated, unchanged,
conflict or rejected, with a stable problem type)."""

import uuid
from collections.abc import Sequence
from typing import Any

from app.core.errors import problem_type
from app.services.slots.rows import ResolvedItem


def result(
    index: int,
    external_id: str | None,
    status: str,
    slot_id: uuid.UUID | None = None,
    *,
    slug: str | None = None,
    detail: str | None = None,
    location: str | None = None,
) -> dict[str, Any]:
    """One item's answer, as plain JSON-ready data (5,000 of them must serialise fast)."""
    out: dict[str, Any] = {"index": index, "external_id": external_id, "status": status}
    if slot_id is not None:
        out["id"] = str(slot_id)
    if slug is not None:
        error: dict[str, Any] = {"type": problem_type(slug), "detail": detail or slug}
        if location is not None:
            error["location"] = location
        out["error"] = error
    return out


def rejected(index: int, external_id: str | None, slug: str, detail: str) -> dict[str, Any]:
    return result(
        index, external_id, "rejected", slug=slug, detail=detail, location=f"slots[{index}]"
    )


def landed(rows: Sequence[ResolvedItem], done: dict[int, uuid.UUID], status: str) -> dict[int, Any]:
    return {
        r.index: result(r.index, r.item.external_id, status, done[r.index])
        for r in rows
        if r.index in done
    }
