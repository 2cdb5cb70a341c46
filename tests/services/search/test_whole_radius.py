"""The ranking holds over the whole radius (issue 9): no cut by site distance before ranking.

Adversarial layouts: more near rows than the search gathers first (3 × limit, at least 30) and
more near sites than the site cap, all worse than one farther slot that must come first.
"""

from datetime import timedelta

from app.core.config import Settings
from app.schemas.search import SearchQuery
from app.services.search.service import find_candidates
from tests.services.search.fixtures import NANTES_LAT, NANTES_LON, NOW, SearchWorld, slot_ids

HERE = {"lat": NANTES_LAT, "lon": NANTES_LON}
SMALL_SITE_CAP = Settings(search_site_cap=5)


def query(**fields: object) -> SearchQuery:
    return SearchQuery.model_validate({"location": HERE, **fields})


async def test_a_farther_sas_participant_comes_before_many_near_non_participants(
    world: SearchWorld,
) -> None:
    # 12 non-participant sites within 2.4 km, 3 slots each (36 rows > 30), then a participant
    # 4 km away free in 30 min: the regulator must be offered the participant first.
    territory = await world.territory()
    for i in range(12):
        other = await world.professional(sas_participant=False)
        site = await world.site(territory, 0.2 * (i + 1), other)
        for hour in (20, 21, 22):
            await world.slot(other, site, timedelta(hours=hour))
    participant = await world.professional(sas_participant=True)
    soon = await world.slot(
        participant, await world.site(territory, 4.0, participant), timedelta(minutes=30)
    )
    principal, _ = await world.regulator(territory)

    result = await find_candidates(world.session, principal, query(limit=10), now=NOW)

    assert slot_ids(result)[0] == soon
    assert [c.group for c in result.candidates] == ["sas_participant"] + ["other"] * 9
    # The others still rank by score: the nearest sites' earliest slots.
    scores = [c.score for c in result.candidates[1:]]
    assert scores == sorted(scores)


async def test_the_best_slot_beyond_the_site_cap_is_found(world: SearchWorld) -> None:
    # More sites than the site cap (5) nearer than the best slot, all in the same group.
    territory = await world.territory()
    pro = await world.professional()
    for i in range(7):
        site = await world.site(territory, 0.3 * (i + 1), pro)
        await world.slot(pro, site, timedelta(hours=30 + i))
    best = await world.slot(pro, await world.site(territory, 5.0, pro), timedelta(minutes=40))
    principal, _ = await world.regulator(territory)

    result = await find_candidates(
        world.session, principal, query(limit=3), now=NOW, settings=SMALL_SITE_CAP
    )

    assert slot_ids(result)[0] == best


async def test_a_filtered_search_finds_a_match_beyond_many_near_sites_that_do_not_match(
    world: SearchWorld,
) -> None:
    territory = await world.territory()
    gp = await world.professional(specialty="SM54")
    for i in range(8):
        site = await world.site(territory, 0.3 * (i + 1), gp)
        for hour in (1, 2, 3):
            await world.slot(gp, site, timedelta(hours=hour + 3 * i))
    paediatrician = await world.professional(specialty="SM40")
    match = await world.slot(
        paediatrician, await world.site(territory, 6.0, paediatrician), timedelta(hours=5)
    )
    principal, _ = await world.regulator(territory)

    result = await find_candidates(
        world.session, principal, query(specialty="SM40"), now=NOW, settings=SMALL_SITE_CAP
    )

    assert slot_ids(result) == [match]


async def test_teleconsultation_only_ranks_every_site_of_the_territory(
    world: SearchWorld,
) -> None:
    # Teleconsultation has no radius: the earliest one is 60 km away, behind 12 near sites
    # with 3 later teleconsultations each (36 rows) and more sites than the site cap.
    territory = await world.territory()
    for i in range(12):
        pro = await world.professional()
        site = await world.site(territory, 0.5 * (i + 1), pro)
        for hour in (10, 11, 12):
            await world.slot(pro, site, timedelta(hours=hour, minutes=i), modality="VR")
    far = await world.site(territory, 60.0, pro)
    earliest = await world.slot(pro, far, timedelta(minutes=20), modality="VR")
    principal, _ = await world.regulator(territory)

    result = await find_candidates(
        world.session, principal, query(modalities=["VR"]), now=NOW, settings=SMALL_SITE_CAP
    )

    assert slot_ids(result)[0] == earliest
    assert len(result.candidates) == 10


async def test_teleconsultation_beyond_the_site_cap_is_not_answered_as_nothing(
    world: SearchWorld,
) -> None:
    territory = await world.territory()
    pro = await world.professional()
    for i in range(7):
        site = await world.site(territory, 0.5 * (i + 1), pro)
        await world.slot(pro, site, timedelta(hours=2 + i), modality="AMB")
    only = await world.slot(
        pro, await world.site(territory, 40.0, pro), timedelta(hours=3, minutes=30), modality="VR"
    )
    principal, _ = await world.regulator(territory)

    result = await find_candidates(
        world.session, principal, query(modalities=["VR"]), now=NOW, settings=SMALL_SITE_CAP
    )

    assert slot_ids(result) == [only]


async def test_a_site_offers_its_participant_before_its_non_participants(
    world: SearchWorld,
) -> None:
    # One site, three early slots of a non-participant and a later one of a participant: the
    # site's three slots are its best by the ranking, so the participant's is one of them.
    territory = await world.territory()
    other = await world.professional(sas_participant=False)
    participant = await world.professional(sas_participant=True)
    site = await world.site(territory, 1.0, other, participant)
    early = [await world.slot(other, site, timedelta(hours=h)) for h in (1, 2, 3)]
    late = await world.slot(participant, site, timedelta(hours=10))
    principal, _ = await world.regulator(territory)

    result = await find_candidates(world.session, principal, query(), now=NOW)

    assert slot_ids(result) == [late, *early[:2]]
