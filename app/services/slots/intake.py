"""Check each pushed slot on its own (shape, offset, duration, horizon) before any SQL.

A bad item is rejected with a stable problem type and never spoils the others. What needs the
database (professional, site, overlap) is checked by `slots.writes`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError

from app.schemas.slot import ExternalId, SlotItem
from app.services.slots.results import rejected, result

MIN_DURATION = timedelta(minutes=5)
MAX_DURATION = timedelta(hours=4)
MAX_PAST = timedelta(days=1)
MAX_AHEAD = timedelta(days=60)

# The first failing field decides the problem type; anything else is `invalid-slot`.
_FIELD_PROBLEMS = {"modality": "invalid-modality", "labels": "invalid-label"}
_ITEMS = TypeAdapter(list[SlotItem])
_EXTERNAL_ID = TypeAdapter(ExternalId)


@dataclass(slots=True, frozen=True)
class CheckedItem:
    """A pushed slot that passed the checks that need no database, and its place in the body."""

    index: int
    item: SlotItem


def check_items(
    raw_items: Sequence[Any], now: datetime
) -> tuple[list[CheckedItem], dict[int, dict[str, Any]]]:
    """Validate every item on its own; return the candidates and the rejections by index.

    Rules: a timestamp has an offset; start < end; 5 min ≤ duration ≤ 4 h (real elapsed time,
    so a slot across a DST change keeps its true length); start at most 1 day in the past and
    60 days ahead of `now`; an external id appears once per batch.
    """
    valid, rejections = _validated(raw_items)
    candidates: list[CheckedItem] = []
    seen: set[str] = set()
    earliest, latest = now - MAX_PAST, now + MAX_AHEAD
    for index, item in valid:
        problem = _time_problem(item.start, item.end, earliest, latest)
        if problem is None and item.external_id in seen:
            problem = ("duplicate-external-id", "this external_id appears earlier in the batch")
        if problem is not None:
            rejections[index] = rejected(index, item.external_id, *problem)
            continue
        seen.add(item.external_id)
        candidates.append(CheckedItem(index, item))
    return candidates, rejections


def _validated(
    raw_items: Sequence[Any],
) -> tuple[list[tuple[int, SlotItem]], dict[int, dict[str, Any]]]:
    """The whole list in one pydantic call; item by item only when something in it fails."""
    try:
        return list(enumerate(_ITEMS.validate_python(raw_items))), {}
    except ValidationError:
        pass
    valid: list[tuple[int, SlotItem]] = []
    rejections: dict[int, dict[str, Any]] = {}
    for index, raw in enumerate(raw_items):
        try:
            valid.append((index, SlotItem.model_validate(raw)))
        except ValidationError as exc:
            rejections[index] = _schema_rejection(index, external_id_of(raw), exc)
    return valid, rejections


def _time_problem(
    start: datetime, end: datetime, earliest: datetime, latest: datetime
) -> tuple[str, str] | None:
    if end <= start:
        return "end-not-after-start", "end must be after start"
    if not MIN_DURATION <= end - start <= MAX_DURATION:
        minutes = (end - start).total_seconds() / 60
        return "duration-out-of-range", f"a slot lasts 5 min to 4 h, not {minutes:g} min"
    if start < earliest:
        return "start-out-of-range", "start is more than 1 day in the past"
    if start > latest:
        return "start-out-of-range", "start is more than 60 days ahead"
    return None


def external_id_of(raw: Any) -> str | None:
    """The item's external_id if it is a usable one, even when the item is otherwise invalid."""
    value = raw.get("external_id") if isinstance(raw, dict) else None
    try:
        return _EXTERNAL_ID.validate_python(value) if isinstance(value, str) else None
    except ValidationError:
        return None


def _schema_rejection(index: int, external_id: str | None, exc: ValidationError) -> dict[str, Any]:
    first = exc.errors(include_url=False, include_input=False)[0]
    loc = first["loc"]
    field = str(loc[0]) if loc else ""
    if first["type"] == "timestamp_without_offset":
        slug = "timestamp-without-offset"
    else:
        slug = _FIELD_PROBLEMS.get(field, "invalid-slot")
    location = f"slots[{index}]" + "".join(
        f"[{part}]" if isinstance(part, int) else f".{_printable(part)}" for part in loc
    )
    more = exc.error_count() - 1
    detail = f"{location}: {first['msg']}" + (f" (and {more} more)" if more else "")
    return result(index, external_id, "rejected", slug=slug, detail=detail, location=location)


def _printable(name: object) -> str:
    """A field name as it may be echoed back: an unknown key may hold anything, even surrogates."""
    text = str(name)[:100]
    return text.encode("utf-8", "replace").decode("utf-8")
