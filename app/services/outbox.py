"""Write outbox events in the caller's transaction, so an event exists iff its change does.

`emit` writes one event, `emit_many` a batch in one statement. Hot paths that already hold their
rows in SQL can add the events in the same statement with `insert_from(...)` (a data-modifying
CTE), so the data never travels back to Python.
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


_INSERT_MANY = text(
    """
    INSERT INTO outbox_events (type, recipient_client_id, territory_id, data)
    SELECT e.type, e.recipient, e.territory, CAST(e.data AS jsonb)
    FROM unnest(CAST(:types AS text[]), CAST(:recipients AS uuid[]),
                CAST(:territories AS uuid[]), CAST(:data AS text[]))
         AS e(type, recipient, territory, data)
    """
)


async def emit(
    session: AsyncSession,
    type: str,
    data: Mapping[str, Any],
    *,
    recipient_client_id: uuid.UUID | None,
    territory_id: uuid.UUID | None,
) -> None:
    """Write one event in the caller's transaction."""
    await emit_many(session, [Event(type, data, recipient_client_id, territory_id)])


async def emit_many(session: AsyncSession, events: Sequence[Event]) -> None:
    """Write many events in one statement, in the caller's transaction (ids follow the order)."""
    if not events:
        return
    await session.execute(
        _INSERT_MANY,
        {
            "types": [e.type for e in events],
            "recipients": [e.recipient_client_id for e in events],
            "territories": [e.territory_id for e in events],
            "data": [orjson.dumps(e.data).decode() for e in events],
        },
    )


def insert_from(source: str) -> str:
    """SQL that writes the events of `source`, a CTE or subquery with the columns `type`,
    `recipient_client_id`, `territory_id` and `data` (jsonb), for use inside a bigger statement.
    """
    # `source` is SQL written by our own services, never client input.
    return f"""
        INSERT INTO outbox_events (type, recipient_client_id, territory_id, data)
        SELECT type, recipient_client_id, territory_id, data FROM {source}
    """  # noqa: S608
