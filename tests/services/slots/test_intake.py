"""Slot intake rules, driven through the service with a fixed `now` (real PostgreSQL)."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.errors import problem_type
from app.services.slots import agenda as slots
from tests.conftest import MakeKey
from tests.factories import create_professional, create_site, create_territory

NOW = datetime(2026, 10, 20, 8, 0, tzinfo=UTC)


@dataclass
class World:
    """A territory, a site with two professionals, and two practice-software clients."""

    territory_id: uuid.UUID
    site_id: str
    closed_site_id: str
    rpps: str  # linked to both clients, works at the site
    other_rpps: str  # works at the site, linked to no client
    elsewhere_rpps: str  # linked to the client, works at no site
    software: Principal
    other_software: Principal
    software_key: str
    other_software_key: str


async def build_world(
    client: httpx.AsyncClient, admin_headers: dict[str, str], make_key: MakeKey
) -> World:
    territory = await create_territory(client, admin_headers)
    pro = await create_professional(client, admin_headers)
    other = await create_professional(client, admin_headers)
    elsewhere = await create_professional(client, admin_headers)
    site = await create_site(client, admin_headers, territory["id"], [pro["id"], other["id"]])
    # `elsewhere` works in another territory of the same clients, at no site of this one.
    second = await create_territory(client, admin_headers)
    await create_site(client, admin_headers, second["id"], [elsewhere["id"]])
    territories = [uuid.UUID(territory["id"]), uuid.UUID(second["id"])]
    closed = await create_site(client, admin_headers, territory["id"], [pro["id"]])
    response = await client.delete(f"/v1/sites/{closed['id']}", headers=admin_headers)
    assert response.status_code == 204
    linked = [uuid.UUID(pro["id"]), uuid.UUID(elsewhere["id"])]
    key, client_id = await make_key(
        "practice_software", professional_ids=linked, territory_ids=territories
    )
    other_key, other_id = await make_key(
        "practice_software", professional_ids=linked, territory_ids=territories
    )
    return World(
        territory_id=uuid.UUID(territory["id"]),
        site_id=site["id"],
        closed_site_id=closed["id"],
        rpps=pro["rpps"],
        other_rpps=other["rpps"],
        elsewhere_rpps=elsewhere["rpps"],
        software=_principal(client_id, linked),
        other_software=_principal(other_id, linked),
        software_key=key,
        other_software_key=other_key,
    )


def _principal(client_id: uuid.UUID, professional_ids: list[uuid.UUID]) -> Principal:
    return Principal(
        client_id=client_id,
        name="software",
        role="practice_software",
        professional_ids=frozenset(professional_ids),
    )


def item(
    world: World, external_id: str, start: str, minutes: int = 20, **fields: Any
) -> dict[str, Any]:
    """A valid slot item starting at `start` (RFC 3339)."""
    begin = datetime.fromisoformat(start)
    return {
        "external_id": external_id,
        "professional_rpps": world.rpps,
        "site_id": world.site_id,
        "start": begin.isoformat(),
        "end": (begin + timedelta(minutes=minutes)).isoformat(),
        "modality": "AMB",
        "labels": ["SNP"],
        **fields,
    }


@pytest.fixture
async def world(
    client: httpx.AsyncClient, admin_headers: dict[str, str], make_key: MakeKey
) -> World:
    return await build_world(client, admin_headers, make_key)


async def push(session: AsyncSession, principal: Principal, *items: Any) -> dict[str, Any]:
    return await slots.push_slots(session, principal, list(items), now=NOW)


async def outbox_types(session: AsyncSession, principal: Principal) -> list[str]:
    rows = await session.scalars(
        text("SELECT type FROM outbox_events WHERE recipient_client_id = :c ORDER BY id"),
        {"c": principal.client_id},
    )
    return list(rows)


async def stored(session: AsyncSession, slot_id: str) -> dict[str, Any]:
    row = (await session.execute(text("SELECT * FROM slots WHERE id = :id"), {"id": slot_id})).one()
    return dict(row._mapping)


START = "2026-10-21T10:00:00+02:00"

REJECTIONS: list[tuple[str, dict[str, Any], str, str | None]] = [
    ("unknown professional", {"professional_rpps": "99999999999"}, "unknown-professional", None),
    ("not linked", {"professional_rpps": "OTHER"}, "professional-not-linked", None),
    ("not at site", {"professional_rpps": "ELSEWHERE"}, "professional-not-at-site", None),
    ("unknown site", {"site_id": str(uuid.UUID(int=7))}, "unknown-site", None),
    ("inactive site", {"site_id": "CLOSED"}, "inactive-site", None),
    ("no offset", {"start": "2026-10-21T10:00:00"}, "timestamp-without-offset", "slots[0].start"),
    ("end before start", {"end": "2026-10-21T09:00:00+02:00"}, "end-not-after-start", None),
    ("end equals start", {"end": START}, "end-not-after-start", None),
    ("too short", {"end": "2026-10-21T10:04:00+02:00"}, "duration-out-of-range", None),
    ("too long", {"end": "2026-10-21T14:01:00+02:00"}, "duration-out-of-range", None),
    (
        "too far back",
        {"start": "2026-10-19T07:00:00+00:00", "end": "2026-10-19T07:20:00+00:00"},
        "start-out-of-range",
        None,
    ),
    (
        "too far ahead",
        {"start": "2026-12-20T08:00:00+00:00", "end": "2026-12-20T08:20:00+00:00"},
        "start-out-of-range",
        None,
    ),
    ("bad modality", {"modality": "XX"}, "invalid-modality", "slots[0].modality"),
    ("bad label", {"labels": ["SNP", "VIP"]}, "invalid-label", "slots[0].labels[1]"),
    ("missing field", {"site_id": None}, "invalid-slot", "slots[0].site_id"),
]


@pytest.mark.parametrize(
    ("change", "slug", "location"),
    [(c, s, loc) for _, c, s, loc in REJECTIONS],
    ids=[name for name, *_ in REJECTIONS],
)
async def test_each_rejection_reason_has_its_problem_type_and_keeps_the_valid_item(
    session: AsyncSession, world: World, change: dict[str, Any], slug: str, location: str | None
) -> None:
    aliases = {
        "OTHER": world.other_rpps,
        "ELSEWHERE": world.elsewhere_rpps,
        "CLOSED": world.closed_site_id,
    }
    bad = item(world, "bad", START) | {
        k: aliases.get(v, v) if isinstance(v, str) else v for k, v in change.items()
    }
    good = item(world, "good", "2026-10-22T10:00:00+02:00")
    answer = await push(session, world.software, bad, good)
    first, second = answer["results"]
    assert first["status"] == "rejected", first
    assert first["error"]["type"] == problem_type(slug)
    assert first["error"]["detail"]
    if location is not None:
        assert first["error"]["location"] == location
        assert first["error"]["detail"].startswith(location)
    assert second["status"] == "created"
    assert answer["counts"]["created"] == 1
    assert answer["counts"]["rejected"] == 1
    assert await outbox_types(session, world.software) == ["slot.created"]


async def test_overlap_with_a_stored_slot_is_rejected_and_writes_nothing(
    session: AsyncSession, world: World
) -> None:
    await push(session, world.software, item(world, "a", START, 30))
    answer = await push(session, world.software, item(world, "b", "2026-10-21T10:15:00+02:00"))
    (only,) = answer["results"]
    assert only["status"] == "rejected"
    assert only["error"]["type"] == problem_type("slot-overlap")
    assert "'a'" in only["error"]["detail"]
    assert await outbox_types(session, world.software) == ["slot.created"]


async def test_overlap_inside_one_batch_keeps_the_first_item(
    session: AsyncSession, world: World
) -> None:
    answer = await push(
        session,
        world.software,
        item(world, "first", START, 30),
        item(world, "second", "2026-10-21T10:20:00+02:00", 30),
        item(world, "after", "2026-10-21T10:30:00+02:00", 30),
    )
    assert [r["status"] for r in answer["results"]] == ["created", "rejected", "created"]
    assert answer["results"][1]["error"]["type"] == problem_type("slot-overlap")


async def test_overlap_with_another_clients_slot_of_the_same_professional_is_rejected(
    session: AsyncSession, world: World
) -> None:
    await push(session, world.other_software, item(world, "theirs", START, 30))
    answer = await push(session, world.software, item(world, "mine", START, 30))
    assert answer["results"][0]["error"]["type"] == problem_type("slot-overlap")
    assert "theirs" not in answer["results"][0]["error"]["detail"]


async def test_duplicate_external_id_in_one_batch_rejects_the_repeat(
    session: AsyncSession, world: World
) -> None:
    answer = await push(
        session,
        world.software,
        item(world, "same", START),
        item(world, "same", "2026-10-22T10:00:00+02:00"),
    )
    assert [r["status"] for r in answer["results"]] == ["created", "rejected"]
    assert answer["results"][1]["error"]["type"] == problem_type("duplicate-external-id")


async def test_non_object_item_is_rejected_alone(session: AsyncSession, world: World) -> None:
    answer = await push(session, world.software, "nonsense", item(world, "ok", START))
    assert [r["status"] for r in answer["results"]] == ["rejected", "created"]
    assert answer["results"][0]["error"]["type"] == problem_type("invalid-slot")


async def test_created_slot_is_stored_free_at_its_site_and_writes_its_event(
    session: AsyncSession, world: World
) -> None:
    answer = await push(session, world.software, item(world, "a", START, booking_url=None))
    created = answer["results"][0]
    row = await stored(session, created["id"])
    assert str(row["site_id"]) == world.site_id
    assert row["status"] == "free"
    assert row["version"] == 1
    event = (
        await session.execute(
            text("SELECT territory_id, data FROM outbox_events WHERE recipient_client_id = :c"),
            {"c": world.software.client_id},
        )
    ).one()
    assert event.territory_id == world.territory_id
    assert event.data["id"] == created["id"]
    assert event.data["professional_rpps"] == world.rpps
    assert event.data["status"] == "free"
    assert datetime.fromisoformat(event.data["start"]) == datetime.fromisoformat(START)


async def test_repush_is_unchanged_and_writes_no_event(session: AsyncSession, world: World) -> None:
    first = await push(session, world.software, item(world, "a", START))
    again = await push(session, world.software, item(world, "a", START))
    assert again["results"][0]["status"] == "unchanged"
    assert again["results"][0]["id"] == first["results"][0]["id"]
    assert again["counts"]["unchanged"] == 1
    assert await outbox_types(session, world.software) == ["slot.created"]
    assert (await stored(session, first["results"][0]["id"]))["version"] == 1


async def test_changed_push_updates_in_place_and_bumps_the_version(
    session: AsyncSession, world: World
) -> None:
    first = await push(session, world.software, item(world, "a", START))
    slot_id = first["results"][0]["id"]
    moved = await push(session, world.software, item(world, "a", START, 30, modality="VR"))
    assert moved["results"][0] == {
        "index": 0,
        "external_id": "a",
        "status": "updated",
        "id": slot_id,
    }
    row = await stored(session, slot_id)
    assert (row["version"], row["modality"]) == (2, "VR")
    assert await outbox_types(session, world.software) == ["slot.created", "slot.updated"]


async def test_a_slot_may_move_into_the_time_another_item_of_the_batch_leaves(
    session: AsyncSession, world: World
) -> None:
    await push(session, world.software, item(world, "a", START, 30))
    answer = await push(
        session,
        world.software,
        item(world, "b", START, 30),
        item(world, "a", "2026-10-21T11:00:00+02:00", 30),
    )
    assert [r["status"] for r in answer["results"]] == ["created", "updated"]


async def test_push_over_held_and_booked_slots_is_conflict_and_leaves_them_intact(
    session: AsyncSession, world: World
) -> None:
    first = await push(
        session,
        world.software,
        item(world, "held", START),
        item(world, "booked", "2026-10-21T11:00:00+02:00"),
    )
    held_id, booked_id = (r["id"] for r in first["results"])
    await session.execute(
        text(
            "UPDATE slots SET status = 'held', hold_expires_at = now() + interval '5 minutes' "
            "WHERE id = :id"
        ),
        {"id": held_id},
    )
    await session.execute(
        text("UPDATE slots SET status = 'booked' WHERE id = :id"), {"id": booked_id}
    )
    before = [await stored(session, held_id), await stored(session, booked_id)]
    answer = await push(
        session,
        world.software,
        item(world, "held", "2026-10-21T15:00:00+02:00", modality="VR"),
        item(world, "booked", "2026-10-21T16:00:00+02:00", site_id=world.site_id),
    )
    assert [r["status"] for r in answer["results"]] == ["conflict", "conflict"]
    assert answer["results"][0]["error"]["type"] == problem_type("slot-not-free")
    assert "held" in answer["results"][0]["error"]["detail"]
    assert [r["id"] for r in answer["results"]] == [held_id, booked_id]
    assert [await stored(session, held_id), await stored(session, booked_id)] == before
    assert await outbox_types(session, world.software) == ["slot.created", "slot.created"]


async def test_sync_cancels_exactly_the_missing_free_slots_of_the_window(
    session: AsyncSession, world: World
) -> None:
    first = await push(
        session,
        world.software,
        item(world, "kept", "2026-10-21T08:00:00+02:00"),
        item(world, "dropped", "2026-10-21T09:00:00+02:00"),
        item(world, "booked", "2026-10-21T10:00:00+02:00"),
        item(world, "outside", "2026-10-25T10:00:00+01:00"),
    )
    ids = {r["external_id"]: r["id"] for r in first["results"]}
    await session.execute(
        text("UPDATE slots SET status = 'booked' WHERE id = :id"), {"id": ids["booked"]}
    )
    await push(session, world.other_software, item(world, "theirs", "2026-10-21T12:00:00+02:00"))
    answer = await slots.sync_slots(
        session,
        world.software,
        [
            item(world, "kept", "2026-10-21T08:00:00+02:00"),
            item(world, "new", START.replace("10:", "13:")),
        ],
        datetime(2026, 10, 21, tzinfo=UTC) - timedelta(hours=2),
        datetime(2026, 10, 22, tzinfo=UTC),
        now=NOW,
    )
    assert [r["status"] for r in answer["results"]] == ["unchanged", "created"]
    assert answer["cancelled"] == [
        {"id": ids["dropped"], "external_id": "dropped", "status": "cancelled"}
    ]
    assert answer["untouched"] == [
        {"id": ids["booked"], "external_id": "booked", "status": "booked"}
    ]
    assert answer["counts"]["cancelled"] == 1
    statuses: dict[str, str] = dict(
        (
            await session.execute(
                text("SELECT external_id, status FROM slots WHERE source_client_id = :c"),
                {"c": world.software.client_id},
            )
        ).all()
    )
    assert statuses == {
        "kept": "free",
        "dropped": "cancelled",
        "booked": "booked",
        "outside": "free",
        "new": "free",
    }
    other = await slots.list_slots(session, world.other_software, cursor=None, limit=10)
    assert [s.status for s in other[0]] == ["free"]
    assert (await outbox_types(session, world.software))[-2:] == ["slot.cancelled", "slot.created"]


async def test_cancelled_slot_pushed_again_is_free_again(
    session: AsyncSession, world: World
) -> None:
    first = await push(session, world.software, item(world, "a", START))
    await slots.cancel_slot(session, world.software, "a")
    again = await push(session, world.software, item(world, "a", START))
    assert again["results"][0]["status"] == "updated"
    row = await stored(session, first["results"][0]["id"])
    assert (row["status"], row["version"]) == ("free", 3)


async def test_slot_across_the_october_dst_change_keeps_its_real_duration(
    session: AsyncSession, world: World
) -> None:
    dst_night = datetime(2026, 10, 24, 12, 0, tzinfo=UTC)
    across = item(world, "night", "2026-10-25T01:30:00+02:00") | {
        "end": "2026-10-25T03:30:00+01:00"
    }
    answer = await slots.push_slots(session, world.software, [across], now=dst_night)
    assert answer["results"][0]["status"] == "created"
    row = await stored(session, answer["results"][0]["id"])
    assert row["end_at"] - row["start_at"] == timedelta(hours=3)
    assert row["start_at"] == datetime(2026, 10, 24, 23, 30, tzinfo=UTC)
    # 3 h 01 on the wall clock but 4 h 01 of real time: longer than the 4 h limit.
    longer = item(world, "longer", "2026-10-25T00:59:00+02:00") | {
        "end": "2026-10-25T04:00:00+01:00"
    }
    refused = await slots.push_slots(session, world.software, [longer], now=dst_night)
    assert refused["results"][0]["error"]["type"] == problem_type("duration-out-of-range")


async def test_each_push_leaves_one_audit_event_with_counts_only(
    session: AsyncSession, world: World
) -> None:
    await push(session, world.software, item(world, "a", START), {"external_id": "b"})
    detail = await session.scalar(
        text("SELECT detail FROM audit_events WHERE actor_client_id = :c AND action = :a"),
        {"c": world.software.client_id, "a": "slots.push"},
    )
    assert detail == {
        "items": 2,
        "counts": {"created": 1, "updated": 0, "unchanged": 0, "rejected": 1, "conflict": 0},
    }


async def test_a_batch_runs_under_the_batch_statement_timeout_not_the_request_one(
    session: AsyncSession, world: World
) -> None:
    # One COPY of 5,000 rows may outlast the service's default timeout on a loaded machine.
    before = await session.scalar(text("SHOW statement_timeout"))
    await push(session, world.software, item(world, "a", START))
    assert before != slots.BATCH_STATEMENT_TIMEOUT
    assert await session.scalar(text("SHOW statement_timeout")) == slots.BATCH_STATEMENT_TIMEOUT
