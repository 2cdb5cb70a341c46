import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.schemas.dispatch import DispatchOut, DispatchRequest
from app.schemas.search import SearchResult
from app.services.dispatch import service as dispatch
from app.services.holds.take import take_first_free
from app.services.search import service as search_service
from tests.dispatch_factories import add_slots, make_world, new_client, regulator_of


async def test_take_first_free_takes_candidates_in_the_given_order_skipping_taken_ones(
    session: AsyncSession,
) -> None:
    world = await make_world(session)
    a, b, c = await add_slots(session, world, 3)
    other_id, _ = await new_client(session, "regulator", territory_ids=[world.territory_id])
    taken = await take_first_free(session, regulator_of(world, client_id=other_id), [c], 300)
    assert taken is not None
    hold = await take_first_free(session, regulator_of(world), [c, b, a], 300)
    assert hold is not None
    assert hold.slot_id == b


async def test_take_first_free_outside_the_territories_takes_nothing(
    session: AsyncSession,
) -> None:
    world = await make_world(session)
    elsewhere = await make_world(session)
    slot_ids = await add_slots(session, elsewhere, 2)
    assert await take_first_free(session, regulator_of(world), slot_ids, 300) is None


async def test_dispatch_searches_again_when_every_candidate_was_taken_meanwhile(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await make_world(session)
    first, second = await add_slots(session, world, 2)
    rival_id, _ = await new_client(session, "regulator", territory_ids=[world.territory_id])
    rival = regulator_of(world, client_id=rival_id)
    real_search = search_service.find_candidates
    calls: list[list[uuid.UUID]] = []

    async def search_then_lose_the_race(*args: Any, **kwargs: Any) -> SearchResult:
        result = await real_search(*args, **kwargs)
        calls.append([c.slot_id for c in result.candidates])
        if len(calls) == 1:  # another regulator takes the candidate right after the search
            await take_first_free(session, rival, calls[0], 300)
        return result

    monkeypatch.setattr(dispatch, "find_candidates", search_then_lose_the_race)
    body = DispatchRequest.model_validate(
        {"location": {"lat": world.lat, "lon": world.lon}, "limit": 1}
    )
    outcome = await dispatch.dispatch(session, regulator_of(world), body)
    assert isinstance(outcome, DispatchOut)
    assert calls == [[first], [second]]
    assert outcome.hold.slot_id == second


async def test_dispatch_answers_no_free_slot_when_the_last_candidate_is_taken(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await make_world(session)
    await add_slots(session, world, 1)
    rival_id, _ = await new_client(session, "regulator", territory_ids=[world.territory_id])
    real_search = search_service.find_candidates

    async def search_then_lose_the_race(*args: Any, **kwargs: Any) -> SearchResult:
        result = await real_search(*args, **kwargs)
        await take_first_free(
            session,
            regulator_of(world, client_id=rival_id),
            [c.slot_id for c in result.candidates],
            300,
        )
        return result

    monkeypatch.setattr(dispatch, "find_candidates", search_then_lose_the_race)
    body = DispatchRequest.model_validate({"location": {"lat": world.lat, "lon": world.lon}})
    outcome = await dispatch.dispatch(session, regulator_of(world), body)
    assert isinstance(outcome, dispatch.NoFreeSlotFound)
