"""Slot digests: an unchanged re-push writes nothing, any change of a pushed field is seen."""

import importlib.util
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import problem_type
from app.models import Slot
from app.models.slot import slot_digest
from app.services.slots import agenda
from app.services.slots.inserts import new_ids
from tests.conftest import MakeKey
from tests.services.slots.test_intake import (
    START,
    World,
    build_world,
    item,
    outbox_types,
    push,
    stored,
)

_MIGRATION = Path(__file__).parents[3] / "migrations/versions/0017_slot_digest.py"


def _digest_sql() -> str:
    spec = importlib.util.spec_from_file_location("migration_0017", _MIGRATION)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.DIGEST_SQL)


@pytest.fixture
async def world(
    client: httpx.AsyncClient, admin_headers: dict[str, str], make_key: MakeKey
) -> World:
    return await build_world(client, admin_headers, make_key)


async def physical(session: AsyncSession, slot_id: str) -> dict[str, Any]:
    """The row and its physical version: any UPDATE, even of nothing, gives a new ctid/xmin."""
    row = (
        await session.execute(
            text("SELECT ctid::text AS ctid, xmin::text AS xmin, * FROM slots WHERE id = :id"),
            {"id": slot_id},
        )
    ).one()
    return dict(row._mapping)


async def event_count(session: AsyncSession) -> int:
    return int(await session.scalar(text("SELECT count(*) FROM outbox_events")) or 0)


def _batch(world: World) -> list[dict[str, Any]]:
    return [
        item(world, "a", START),
        item(world, "b", "2026-10-21T11:00:00+02:00", labels=["PRO", "SNP"]),
        item(world, "c", "2026-10-21T12:00:00+02:00", booking_url="https://agenda.example/r/é1"),
    ]


def _respelled(world: World) -> list[dict[str, Any]]:
    """The same slots, spelled otherwise: other offsets, labels reordered and repeated."""
    return [
        item(world, "a", "2026-10-21T08:00:00+00:00"),
        item(world, "b", "2026-10-21T09:00:00Z", labels=["SNP", "PRO", "SNP"]),
        item(world, "c", "2026-10-21T07:00:00-03:00", booking_url="https://agenda.example/r/é1"),
    ]


async def test_unchanged_repush_writes_no_row_and_no_event(
    session: AsyncSession, world: World
) -> None:
    first = await push(session, world.software, *_batch(world))
    ids = [r["id"] for r in first["results"]]
    before = [await physical(session, i) for i in ids]
    events = await event_count(session)
    for body in (_batch(world), _respelled(world)):
        again = await push(session, world.software, *body)
        assert [r["status"] for r in again["results"]] == ["unchanged"] * 3
        assert [r["id"] for r in again["results"]] == ids
        assert again["counts"]["unchanged"] == 3
    after = [await physical(session, i) for i in ids]
    assert after == before  # same ctid and xmin: not even a no-op UPDATE; version, updated_at
    assert [row["version"] for row in after] == [1, 1, 1]
    assert await event_count(session) == events
    assert await outbox_types(session, world.software) == ["slot.created"] * 3


CHANGES: list[tuple[str, dict[str, Any]]] = [
    ("start", {"start": "2026-10-21T10:05:00+02:00"}),
    ("end", {"end": "2026-10-21T10:25:00+02:00"}),
    ("modality", {"modality": "VR"}),
    ("labels", {"labels": ["SNP", "CPTS"]}),
    ("booking_url added", {"booking_url": "https://agenda.example/x"}),
    ("start by a microsecond", {"start": "2026-10-21T10:00:00.000001+02:00"}),
]


@pytest.mark.parametrize(("name", "change"), CHANGES, ids=[c[0] for c in CHANGES])
async def test_a_change_of_any_one_field_is_an_update(
    session: AsyncSession, world: World, name: str, change: dict[str, Any]
) -> None:
    first = await push(session, world.software, item(world, "a", START))
    slot_id = first["results"][0]["id"]
    answer = await push(session, world.software, {**item(world, "a", START), **change})
    assert answer["results"][0]["status"] == "updated", name
    row = await stored(session, slot_id)
    assert row["version"] == 2
    assert row["digest"] == slot_digest(
        row["professional_id"],
        row["site_id"],
        row["start_at"],
        row["end_at"],
        row["modality"],
        row["labels"],
        row["booking_url"],
    )
    assert await outbox_types(session, world.software) == ["slot.created", "slot.updated"]
    # And pushing the new values again is unchanged.
    again = await push(session, world.software, {**item(world, "a", START), **change})
    assert again["results"][0]["status"] == "unchanged"


def test_the_digest_tells_every_field_apart() -> None:
    base: dict[str, Any] = {
        "professional_id": uuid.UUID(int=1),
        "site_id": uuid.UUID(int=2),
        "start_at": datetime(2026, 10, 21, 8, tzinfo=UTC),
        "end_at": datetime(2026, 10, 21, 8, 20, tzinfo=UTC),
        "modality": "AMB",
        "labels": ["SNP"],
        "booking_url": None,
    }
    others: dict[str, Any] = {
        "professional_id": uuid.UUID(int=3),
        "site_id": uuid.UUID(int=3),
        "start_at": base["start_at"] + timedelta(microseconds=1),
        "end_at": base["end_at"] - timedelta(microseconds=1),
        "modality": "VR",
        "labels": ["CPTS", "SNP"],
        "booking_url": "-",  # not the marker of an absent URL
    }
    digests = {slot_digest(**base)} | {slot_digest(**{**base, k: v}) for k, v in others.items()}
    assert len(digests) == 1 + len(others)
    # The same instant in another offset, labels in another order: the same digest.
    paris = base["start_at"].astimezone(datetime.fromisoformat("2026-10-21T10:00+02:00").tzinfo)
    assert slot_digest(**{**base, "start_at": paris}) == slot_digest(**base)
    assert slot_digest(**{**base, "labels": ["SNP", "PRO", "SNP"]}) == slot_digest(
        **{**base, "labels": ["PRO", "SNP"]}
    )


async def test_held_slot_repushed_unchanged_is_still_a_conflict(
    session: AsyncSession, world: World
) -> None:
    first = await push(session, world.software, item(world, "held", START))
    held_id = first["results"][0]["id"]
    await session.execute(
        text(
            "UPDATE slots SET status = 'held', hold_expires_at = now() + interval '5 minutes' "
            "WHERE id = :id"
        ),
        {"id": held_id},
    )
    before = await physical(session, held_id)
    assert before["digest"] is not None  # a status change keeps the digest
    answer = await push(session, world.software, item(world, "held", START))
    result = answer["results"][0]
    assert result["status"] == "conflict"
    assert result["id"] == held_id
    assert result["error"]["type"] == problem_type("slot-not-free")
    assert result["error"]["detail"] == (
        "the slot is held: a push may not change it; it was left as is"
    )
    assert result["error"]["location"] == "slots[0]"
    assert await physical(session, held_id) == before
    assert await outbox_types(session, world.software) == ["slot.created"]


async def test_the_migration_computes_the_digest_python_computes(
    session: AsyncSession, world: World
) -> None:
    answer = await push(session, world.software, *_batch(world))
    sql = _digest_sql()
    for result in answer["results"]:
        row = await stored(session, result["id"])
        in_sql = await session.scalar(
            text(f"SELECT {sql} FROM slots WHERE id = :id"),  # noqa: S608 (a constant)
            {"id": result["id"]},
        )
        assert in_sql == row["digest"]
    # Stored labels out of order and repeated (a writer other than the push) digest alike.
    slot_id = answer["results"][1]["id"]
    await session.execute(
        text("UPDATE slots SET labels = ARRAY['SNP', 'PRO', 'SNP'] WHERE id = :id"),
        {"id": slot_id},
    )
    row = await stored(session, slot_id)
    in_sql = await session.scalar(
        text(f"SELECT {sql} FROM slots WHERE id = :id"),  # noqa: S608 (a constant)
        {"id": slot_id},
    )
    assert in_sql == slot_digest(
        row["professional_id"],
        row["site_id"],
        row["start_at"],
        row["end_at"],
        row["modality"],
        ["PRO", "SNP"],
        row["booking_url"],
    )


async def test_raw_sql_changing_a_field_clears_the_digest_so_it_never_lies(
    session: AsyncSession, world: World
) -> None:
    first = await push(session, world.software, item(world, "a", START))
    slot_id = first["results"][0]["id"]
    await session.execute(text("UPDATE slots SET modality = 'VR' WHERE id = :id"), {"id": slot_id})
    assert (await stored(session, slot_id))["digest"] is None
    # The old values are a change again (the stale digest would have said "unchanged")…
    back = await push(session, world.software, item(world, "a", START))
    assert back["results"][0]["status"] == "updated"
    assert (await stored(session, slot_id))["modality"] == "AMB"
    # … and the stored values, compared column by column when the digest is unknown, are not.
    await session.execute(text("UPDATE slots SET modality = 'VR' WHERE id = :id"), {"id": slot_id})
    same = await push(session, world.software, item(world, "a", START, modality="VR"))
    assert same["results"][0]["status"] == "unchanged"


async def test_a_slot_written_through_the_orm_carries_its_digest(
    session: AsyncSession, world: World
) -> None:
    first = await push(session, world.software, item(world, "a", START))
    row = await stored(session, first["results"][0]["id"])
    slot = Slot(
        source_client_id=world.software.client_id,
        external_id="orm",
        professional_id=row["professional_id"],
        site_id=row["site_id"],
        start_at=row["start_at"] + timedelta(hours=2),
        end_at=row["end_at"] + timedelta(hours=2),
        modality="HH",
    )
    session.add(slot)
    await session.flush()
    expected = slot_digest(
        slot.professional_id,
        slot.site_id,
        slot.start_at,
        slot.end_at,
        "HH",
        ["SNP"],
        None,
    )
    assert (await stored(session, str(slot.id)))["digest"] == expected
    # A change with every pushed field loaded is digested again…
    await session.refresh(slot)
    slot.modality = "VR"
    await session.flush()
    changed = await stored(session, str(slot.id))
    assert changed["digest"] == slot_digest(
        slot.professional_id, slot.site_id, slot.start_at, slot.end_at, "VR", ["SNP"], None
    )
    # … and one made without them loaded (no I/O in a flush) leaves the digest unknown, not stale.
    session.expire(slot, ["labels"])
    slot.modality = "AMB"
    await session.flush()
    assert (await stored(session, str(slot.id)))["digest"] is None


def test_new_slot_ids_are_distinct_random_uuids() -> None:
    ids = new_ids(2_000)
    assert len({str(i) for i in ids}) == 2_000
    for slot_id in ids[:50]:
        assert isinstance(slot_id, uuid.UUID)
        parsed = uuid.UUID(str(slot_id))
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert parsed == slot_id


async def test_a_batch_gets_the_work_mem_of_its_outbox_triggers(
    session: AsyncSession, world: World
) -> None:
    before = await session.scalar(text("SHOW work_mem"))
    assert before != agenda.BATCH_WORK_MEM
    await push(session, world.software, item(world, "a", START))
    assert await session.scalar(text("SHOW work_mem")) == agenda.BATCH_WORK_MEM
