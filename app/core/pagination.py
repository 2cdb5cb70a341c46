"""Keyset pagination shared by every list endpoint: `limit` and an opaque `cursor`."""

import base64
import binascii
import hashlib
import hmac
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

import orjson
from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from app.core.config import get_settings
from app.core.errors import InvalidInput

T = TypeVar("T")

_MAC_BYTES = 16
_MAX_BIGINT = 2**63 - 1


@lru_cache(maxsize=4)
def _derived_key(secret: str) -> bytes:
    # A key of its own for cursors, derived from the server secret (the sealing patient-data
    # key): a cursor MAC never doubles as anything that protects patient data.
    return hmac.new(secret.encode(), b"snp-dispatch cursor mac v1", hashlib.sha256).digest()


def _cursor_key() -> bytes:
    secrets = get_settings().patient_data_key.get_secret_value().split(",")
    return _derived_key(secrets[0].strip())


def _mac(payload: bytes) -> bytes:
    return hmac.new(_cursor_key(), payload, hashlib.sha256).digest()[:_MAC_BYTES]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal_cursor(position: list[Any]) -> str:
    """An opaque, tamper-evident cursor: the position as JSON and its HMAC."""
    payload = orjson.dumps(position)
    return f"{_b64(payload)}.{_b64(_mac(payload))}"


def _not_a_cursor(location: str = "cursor") -> InvalidInput:
    return InvalidInput(f"{location}: not a cursor returned by this list", location=location)


def open_cursor(cursor: str, location: str = "cursor") -> Any:
    """The position sealed in `cursor`; 422 at `location` unless this service issued it."""
    payload_text, _, mac_text = cursor.partition(".")
    try:
        payload, mac = _unb64(payload_text), _unb64(mac_text)
    except (ValueError, binascii.Error):
        raise _not_a_cursor(location) from None
    if not hmac.compare_digest(mac, _mac(payload)):
        raise _not_a_cursor(location)
    return orjson.loads(payload)


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    return seal_cursor([created_at.isoformat(), str(row_id)])


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """A (timestamp, id) position, checked as a whole: two strings, an aware timestamp that
    stays on the calendar in UTC, a UUID."""
    position = open_cursor(cursor)
    if not (
        isinstance(position, list)
        and len(position) == 2
        and all(isinstance(part, str) for part in position)
    ):
        raise _not_a_cursor()
    try:
        at = datetime.fromisoformat(position[0])
        if at.utcoffset() is None:
            raise ValueError("naive timestamp")
        at.astimezone(UTC)  # year 1 or 9999 pushed off the calendar by its offset
        return at, uuid.UUID(position[1])
    except (ValueError, OverflowError):
        raise _not_a_cursor() from None


def encode_id_cursor(row_id: int) -> str:
    return seal_cursor([row_id])


def decode_id_cursor(cursor: str) -> int:
    """A position by a bigint id (the audit trail)."""
    position = open_cursor(cursor)
    if not (
        isinstance(position, list)
        and len(position) == 1
        and type(position[0]) is int
        and 0 < position[0] <= _MAX_BIGINT
    ):
        raise _not_a_cursor()
    row_id: int = position[0]
    return row_id


def encode_bigint_pair_cursor(first: int, second: int) -> str:
    return seal_cursor([first, second])


def decode_bigint_pair_cursor(cursor: str, location: str = "cursor") -> tuple[int, int]:
    """A position by two bigints (the event feed's transaction id and event id)."""
    position = open_cursor(cursor, location)
    if not (
        isinstance(position, list)
        and len(position) == 2
        and all(type(part) is int and 0 <= part <= _MAX_BIGINT for part in position)
    ):
        raise _not_a_cursor(location)
    return position[0], position[1]


def keyset(
    query: Select[Any],
    created_col: InstrumentedAttribute[datetime],
    id_col: InstrumentedAttribute[uuid.UUID],
    cursor: str | None,
    limit: int,
) -> Select[Any]:
    """Order by (created_at, id) and start after `cursor`; fetch one extra row to know if more."""
    if cursor:
        created, row_id = decode_cursor(cursor)
        query = query.where(
            or_(created_col > created, and_(created_col == created, id_col > row_id))
        )
    return query.order_by(created_col, id_col).limit(limit + 1)


def page(rows: Sequence[T], limit: int) -> tuple[list[T], str | None]:
    """The first `limit` rows and the cursor of the next page, if there is one."""
    items = list(rows[:limit])
    if len(rows) > limit:
        last: Any = items[-1]
        return items, encode_cursor(last.created_at, last.id)
    return items, None
