"""Keyset pagination shared by every list endpoint: `limit` and an opaque `cursor`."""

import base64
import binascii
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from app.core.errors import InvalidInput

T = TypeVar("T")


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = orjson.dumps([created_at.isoformat(), str(row_id)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, row_id = orjson.loads(raw)
        created_at = datetime.fromisoformat(created)
        if created_at.utcoffset() is None:  # every cursor we issue carries its offset
            raise ValueError("naive timestamp")
        return created_at, uuid.UUID(row_id)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise InvalidInput(
            "cursor: not a cursor returned by this list", location="cursor"
        ) from None


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
