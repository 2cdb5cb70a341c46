"""The sweep's third step (issue 9): idempotency records past their TTL are deleted."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from app.services import sweeper
from tests.dispatch_factories import new_client


async def test_sweep_deletes_idempotency_records_older_than_the_ttl(
    connection: AsyncConnection, session: AsyncSession
) -> None:
    client_id, _ = await new_client(session, "admin")
    await session.execute(
        text(
            "INSERT INTO idempotency_records (client_id, key, method, path, body_digest, "
            "created_at) VALUES (:c, 'stale', 'POST', '/v1/holds', 'x', now() - interval '25 h'),"
            " (:c, 'fresh', 'POST', '/v1/holds', 'y', now() - interval '23 h')"
        ),
        {"c": client_id},
    )
    await session.flush()
    sessionmaker = async_sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    swept = await sweeper.sweep_once(sessionmaker, idempotency_ttl_seconds=24 * 3600)
    assert swept.idempotency_records_deleted >= 1
    left = (
        await session.scalars(
            text("SELECT key FROM idempotency_records WHERE client_id = :c"), {"c": client_id}
        )
    ).all()
    assert left == ["fresh"]
