"""The delivery worker in this process, on committed rows: when it wakes, what it counts."""

import asyncio
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.config import Settings
from app.core.db import create_sessionmaker
from app.core.security import new_webhook_secret
from app.services.outbox import events as outbox
from app.services.webhooks.admin import oldest_undelivered_seconds
from app.services.webhooks.worker import DeliveryWorker
from tests.concurrency.conftest import Build
from tests.concurrency.receiver import Receiver, running_receiver
from tests.dispatch_factories import World, make_world

POLL = 30.0


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as receiver:
        yield receiver


def _worker(engine: AsyncEngine, database_url: str) -> DeliveryWorker:
    settings = Settings(
        database_url=database_url,
        webhook_allow_private_targets=True,
        webhook_poll_interval_seconds=POLL,
        webhook_retry_delays_seconds=[0.0, 0.0],
    )
    return DeliveryWorker(create_sessionmaker(engine), database_url, settings)


async def _world_with_event(build: Build, url: str, secret: str) -> World:
    async def builder(session: AsyncSession) -> World:
        world = await make_world(session)
        await session.execute(
            text("UPDATE api_clients SET webhook_url = :u, webhook_secret = :s WHERE id = :id"),
            {"u": url, "s": secret, "id": world.source_id},
        )
        await outbox.emit_many(
            session,
            [
                outbox.Event(
                    "slot.created",
                    {"id": str(uuid.uuid4()), "external_id": "a"},
                    world.source_id,
                    world.territory_id,
                )
            ],
        )
        return world

    return await build(builder)


async def _set_due(engine: AsyncEngine, world: World, seconds: float) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE webhook_deliveries SET next_attempt_at = now() + make_interval("
                "secs => :s) WHERE client_id = :c"
            ),
            {"s": seconds, "c": world.source_id},
        )


async def test_a_retry_falling_due_during_a_stall_after_the_lease_is_not_left_to_the_poll(
    committed: Build, committing_engine: AsyncEngine, database_url: str, receiver: Receiver
) -> None:
    world = await _world_with_event(committed, receiver.url, new_webhook_secret())
    await _set_due(committing_engine, world, 0.4)
    worker = _worker(committing_engine, database_url)
    async with httpx.AsyncClient() as http:
        drained_at = time.monotonic()
        assert await worker.deliver_due(http) == 0  # not due yet
    await asyncio.sleep(0.6)  # a loaded machine: the retry falls due before the worker waits
    assert worker._pause(drained_at) <= 0.05  # noqa: SLF001 (the wait is the behaviour)


async def test_a_retry_due_later_is_waited_for_not_the_poll(
    committed: Build, committing_engine: AsyncEngine, database_url: str, receiver: Receiver
) -> None:
    world = await _world_with_event(committed, receiver.url, new_webhook_secret())
    await _set_due(committing_engine, world, 2.0)
    worker = _worker(committing_engine, database_url)
    async with httpx.AsyncClient() as http:
        drained_at = time.monotonic()
        assert await worker.deliver_due(http) == 0
    assert 1.0 < worker._pause(drained_at) <= 2.0  # noqa: SLF001


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_attempts_are_counted_by_outcome_and_timed_and_the_oldest_pending_is_aged(
    committed: Build, committing_engine: AsyncEngine, database_url: str, receiver: Receiver
) -> None:
    receiver.secret = new_webhook_secret()
    receiver.answer = lambda _id, seen: (500, {}) if seen == 0 else (200, {})
    world = await _world_with_event(committed, receiver.url, receiver.secret)
    await _set_due(committing_engine, world, -5.0)
    async with committing_engine.begin() as conn:  # as if written 5 s ago
        await conn.execute(
            text(
                "UPDATE webhook_deliveries SET created_at = now() - interval '5 seconds' "
                "WHERE client_id = :c"
            ),
            {"c": world.source_id},
        )
    assert await oldest_undelivered_seconds(committing_engine) >= 5.0
    before = {
        o: _value("snp_webhook_deliveries_total", outcome=o) for o in ("retried", "delivered")
    }
    timed = _value("snp_webhook_attempt_duration_seconds_count")
    worker = _worker(committing_engine, database_url)
    async with httpx.AsyncClient() as http:
        assert await worker.deliver_due(http) == 1  # 500: retried at once (delay 0)
        assert await worker.deliver_due(http) == 1  # 200
    assert _value("snp_webhook_deliveries_total", outcome="retried") == before["retried"] + 1
    assert _value("snp_webhook_deliveries_total", outcome="delivered") == before["delivered"] + 1
    assert _value("snp_webhook_attempt_duration_seconds_count") == timed + 2
    assert [r.status for r in receiver.received] == [500, 200]
    assert await oldest_undelivered_seconds(committing_engine) == 0.0
