"""Radius and enlargement from the radius table; window defaults and limits across time zones."""

from datetime import datetime, timedelta

import pytest

from app.core.errors import InvalidInput
from app.schemas.search import SearchQuery
from app.services.search.service import find_candidates
from tests.services.search.fixtures import NANTES_LAT, NANTES_LON, NOW, SearchWorld, slot_ids

HERE = {"lat": NANTES_LAT, "lon": NANTES_LON}
QUERY = SearchQuery.model_validate({"location": HERE})


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


async def test_departement_radius_applies_and_enough_candidates_do_not_enlarge(
    world: SearchWorld,
) -> None:
    # Loire-Atlantique (44): 10 km, enlargement 5 km in the 2025 table.
    territory = await world.territory(departement="44")
    pro = await world.professional()
    # A search offers at most SEARCH_SLOTS_PER_SITE (3) slots of one site: spread five over two.
    near = await world.site(territory, 2.0, pro)
    nearby = await world.site(territory, 3.0, pro)
    for hour in range(1, 6):
        await world.slot(pro, near if hour <= 3 else nearby, timedelta(hours=hour))
    outside = await world.slot(pro, await world.site(territory, 12.0, pro), timedelta(hours=9))
    principal, _ = await world.regulator(territory)

    result = await find_candidates(world.session, principal, QUERY, now=NOW)

    assert (result.radius_km, result.enlarged) == (10.0, False)
    assert len(result.candidates) == 5
    assert outside not in slot_ids(result)


async def test_fewer_than_five_candidates_enlarge_by_the_step_up_to_three_times(
    world: SearchWorld,
) -> None:
    territory = await world.territory(departement="44")
    pro = await world.professional()
    await world.slot(pro, await world.site(territory, 2.0, pro), timedelta(hours=1))
    at_13 = await world.slot(pro, await world.site(territory, 13.0, pro), timedelta(hours=2))
    at_27 = await world.slot(pro, await world.site(territory, 27.0, pro), timedelta(hours=3))
    principal, _ = await world.regulator(territory)

    result = await find_candidates(world.session, principal, QUERY, now=NOW)

    # 10 → 15 → 20 → 25 km: the slot at 13 km is found, the one at 27 km is not.
    assert (result.radius_km, result.enlarged) == (25.0, True)
    assert at_13 in slot_ids(result)
    assert at_27 not in slot_ids(result)
    found = next(c for c in result.candidates if c.slot_id == at_13)
    assert "enlarging" in found.why


async def test_territory_radius_overrides_the_table_and_zero_step_never_enlarges(
    world: SearchWorld,
) -> None:
    territory = await world.territory(departement="44", radius_km=3, enlargement_km=0)
    pro = await world.professional()
    inside = await world.slot(pro, await world.site(territory, 2.0, pro), timedelta(hours=1))
    await world.slot(pro, await world.site(territory, 4.0, pro), timedelta(hours=2))
    principal, _ = await world.regulator(territory)

    result = await find_candidates(world.session, principal, QUERY, now=NOW)

    assert (result.radius_km, result.enlarged) == (3.0, False)
    assert slot_ids(result) == [inside]


async def test_paris_radius_is_five_km_enlarged_by_three(world: SearchWorld) -> None:
    territory = await world.territory(departement="75")
    pro = await world.professional()
    at_7 = await world.slot(pro, await world.site(territory, 7.0, pro), timedelta(hours=1))
    principal, _ = await world.regulator(territory)

    result = await find_candidates(world.session, principal, QUERY, now=NOW)

    assert slot_ids(result) == [at_7]
    assert result.radius_km == 14.0  # 5 → 8 → 11 → 14: still fewer than 5, three steps used


async def test_departement_without_radius_in_the_table_uses_the_20_km_fallback(
    world: SearchWorld,
) -> None:
    territory = await world.territory(departement="973", enlargement_km=0)
    pro = await world.professional()
    at_18 = await world.slot(pro, await world.site(territory, 18.0, pro), timedelta(hours=1))
    principal, _ = await world.regulator(territory)

    result = await find_candidates(world.session, principal, QUERY, now=NOW)

    assert result.radius_km == 20.0
    assert slot_ids(result) == [at_18]


async def test_default_window_ends_at_midnight_after_the_day_after_tomorrow_in_paris(
    world: SearchWorld,
) -> None:
    # NOW is Tuesday 10 March 09:00 in Paris: the window ends Friday 13 March 00:00 (23:00 UTC).
    territory = await world.territory()
    pro = await world.professional()
    site = await world.site(territory, 1.0, pro)
    last = await world.slot(pro, site, at("2026-03-12T22:30:00+00:00"))
    beyond = await world.slot(pro, site, at("2026-03-12T23:00:00+00:00"))
    started = await world.slot(pro, site, NOW - timedelta(minutes=5))
    principal, _ = await world.regulator(territory)

    result = await find_candidates(world.session, principal, QUERY, now=NOW)

    assert slot_ids(result) == [last]
    assert beyond not in slot_ids(result)
    assert started not in slot_ids(result)
    assert result.window.start == NOW
    assert result.window.end == at("2026-03-12T23:00:00+00:00")


async def test_default_window_follows_la_reunion_time_zone(world: SearchWorld) -> None:
    # 20:30 UTC on 10 March is 00:30 on 11 March in La Réunion (UTC+4): the window runs to
    # 14 March 00:00 there (13 March 20:00 UTC), a day later than it would in Paris.
    now = at("2026-03-10T20:30:00+00:00")
    territory = await world.territory(departement="974", timezone="Indian/Reunion")
    pro = await world.professional()
    site = await world.site(
        territory,
        insee_code="97411",
        postcode="97400",
        lat=-20.8823,
        lon=55.4504,
        address="2 rue de Paris",
    )
    assert site["timezone"] == "Indian/Reunion"
    inside = await world.slot(pro, site, at("2026-03-13T19:30:00+00:00"))
    beyond = await world.slot(pro, site, at("2026-03-13T20:00:00+00:00"))
    principal, _ = await world.regulator(territory)
    query = SearchQuery.model_validate({"location": {"lat": -20.8850, "lon": 55.4500}})

    result = await find_candidates(world.session, principal, query, now=now)

    assert slot_ids(result) == [inside]
    assert beyond not in slot_ids(result)
    assert result.window.end == at("2026-03-13T20:00:00+00:00")


async def test_window_start_in_the_past_is_clamped_to_now_and_end_to_72_hours(
    world: SearchWorld,
) -> None:
    territory = await world.territory()
    pro = await world.professional()
    site = await world.site(territory, 1.0, pro)
    day_3 = await world.slot(pro, site, timedelta(hours=71))
    day_4 = await world.slot(pro, site, timedelta(hours=73))
    principal, _ = await world.regulator(territory)
    query = SearchQuery.model_validate(
        {
            "location": HERE,
            "window": {
                "start": (NOW - timedelta(days=1)).isoformat(),
                "end": (NOW + timedelta(days=5)).isoformat(),
            },
        }
    )

    result = await find_candidates(world.session, principal, query, now=NOW)

    assert slot_ids(result) == [day_3]
    assert day_4 not in slot_ids(result)
    assert (result.window.start, result.window.end) == (NOW, NOW + timedelta(hours=72))


@pytest.mark.parametrize(
    ("start", "end", "location"),
    [
        (timedelta(days=-2), timedelta(days=-1), "body.window.end"),
        (timedelta(hours=72), timedelta(hours=80), "body.window.start"),
    ],
)
async def test_window_entirely_in_the_past_or_beyond_72_hours_is_refused(
    world: SearchWorld, start: timedelta, end: timedelta, location: str
) -> None:
    territory = await world.territory()
    principal, _ = await world.regulator(territory)
    query = SearchQuery.model_validate(
        {
            "location": HERE,
            "window": {"start": (NOW + start).isoformat(), "end": (NOW + end).isoformat()},
        }
    )

    with pytest.raises(InvalidInput) as refused:
        await find_candidates(world.session, principal, query, now=NOW)

    assert refused.value.extensions["location"] == location
