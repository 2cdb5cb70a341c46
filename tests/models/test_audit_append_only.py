"""The audit trail is append-only: the database refuses UPDATE, DELETE and TRUNCATE."""

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.models.rows import insert, refusal

INSUFFICIENT_PRIVILEGE = "42501"


@pytest.fixture
async def event_id(connection: AsyncConnection) -> int:
    result: int = await insert(
        connection,
        "INSERT INTO audit_events (actor, action, resource_type) "
        "VALUES ('test', 'thing.create', 'thing') RETURNING id",
    )
    return result


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET action = 'thing.erase' WHERE id = :id",
        "DELETE FROM audit_events WHERE id = :id",
        "TRUNCATE audit_events",
    ],
)
async def test_audit_event_cannot_be_changed_or_removed(
    connection: AsyncConnection, event_id: int, statement: str
) -> None:
    params = {"id": event_id} if ":id" in statement else {}
    sqlstate, _ = await refusal(connection, statement, **params)
    assert sqlstate == INSUFFICIENT_PRIVILEGE
    action = await connection.scalar(
        text("SELECT action FROM audit_events WHERE id = :id"), {"id": event_id}
    )
    assert action == "thing.create"


async def test_audit_event_id_cannot_be_chosen_by_the_writer(connection: AsyncConnection) -> None:
    sqlstate, _ = await refusal(
        connection,
        "INSERT INTO audit_events (id, actor, action, resource_type) VALUES (1, 'a', 'b', 'c')",
    )
    assert sqlstate == "428C9"  # generated_always: ids only grow, so a reader never misses one
