"""Write outbox events in the caller's transaction, so an event exists iff its change does.

`emit` writes one event, `emit_many` a batch with one COPY (thousands of events in a few ms).
Statements that already hold their rows in SQL add the events in the same statement instead
(`outbox.tail.written_with`), so the data never travels back to Python.
"""

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


class Event(NamedTuple):
    """An event to write: its type (`slot.created`, `hold.expired`…), data and audience."""

    type: str
    data: Mapping[str, Any]
    recipient_client_id: uuid.UUID | None
    territory_id: uuid.UUID | None


_COLUMNS = ("type", "recipient_client_id", "territory_id", "data")
_INSERT_ONE = text(
    "INSERT INTO outbox_events (type, recipient_client_id, territory_id, data) "
    "VALUES (:type, :recipient, :territory, CAST(:data AS jsonb))"
)


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under `session`, inside the session's transaction (for COPY)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def emit(
    session: AsyncSession,
    type: str,
    data: Mapping[str, Any],
    *,
    recipient_client_id: uuid.UUID | None,
    territory_id: uuid.UUID | None,
) -> None:
    """Write one event in the caller's transaction."""
    await session.execute(
        _INSERT_ONE,
        {
            "type": type,
            "recipient": recipient_client_id,
            "territory": territory_id,
            "data": orjson.dumps(data, default=str).decode(),
        },
    )


async def emit_many(session: AsyncSession, events: Sequence[Event]) -> None:
    """Write many events with one COPY in the caller's transaction (ids follow the order)."""
    if not events:
        return
    records = [
        (e.type, e.recipient_client_id, e.territory_id, orjson.dumps(e.data, default=str).decode())
        for e in events
    ]
    driver = await driver_connection(session)
    await driver.copy_records_to_table("outbox_events", records=records, columns=_COLUMNS)
