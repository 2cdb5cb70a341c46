"""Slot timestamps: the fast reading of the plain form agrees with pydantic's on every input."""

from datetime import datetime
from typing import Annotated, Any

import pytest
from pydantic import TypeAdapter, ValidationError, WrapValidator

from app.schemas.slot import OffsetDatetime


def _general(value: object, handler: Any) -> datetime:
    """The path every timestamp took before the fast reading (`_rfc3339_in_utc` without it)."""
    from app.schemas import slot

    plain = slot._PLAIN_TIMESTAMP
    slot._PLAIN_TIMESTAMP = _NEVER  # type: ignore[assignment]
    try:
        return slot._rfc3339_in_utc(value, handler)
    finally:
        slot._PLAIN_TIMESTAMP = plain


class _Never:
    def fullmatch(self, _value: str) -> None:
        return None


_NEVER = _Never()
FAST = TypeAdapter(OffsetDatetime)
GENERAL = TypeAdapter(Annotated[datetime, WrapValidator(_general)])

VALUES = [
    "2026-12-03T07:00:00+00:00",
    "2026-12-03T08:20:00+01:00",
    "2026-12-03T07:00:00Z",
    "2026-12-03T07:00:00-00:00",
    "2026-12-03T07:00:00.5+00:00",
    "2026-12-03T07:00:00.123456Z",
    "2026-12-03T07:00:00.1234567Z",
    "2026-12-03T23:59:59-23:59",
    "2026-12-03T07:00:00+23:59",
    "2026-12-03T07:00:00+24:00",
    "2026-12-03T24:00:00Z",
    "2026-12-03T07:00:60Z",
    "2026-02-29T07:00:00Z",
    "2024-02-29T07:00:00Z",
    "2026-13-01T07:00:00Z",
    "0001-01-01T00:30:00+01:00",
    "9999-12-31T23:30:00-01:00",
    "2026-12-03T07:00:00",
    "2026-12-03t07:00:00z",
    "2026-12-03 07:00:00+01:00",
    "2026-12-03T07:00+01:00",
    "1700000000",
    "",
]


def _outcome(adapter: TypeAdapter[Any], value: object) -> object:
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        return [(e["type"], e["msg"]) for e in exc.errors(include_url=False)]


@pytest.mark.parametrize("value", VALUES)
def test_the_fast_reading_gives_what_pydantic_gives(value: str) -> None:
    assert _outcome(FAST, value) == _outcome(GENERAL, value)
