"""Ordering rules of the search, one by one."""

import uuid
from datetime import timedelta

import pytest

from app.schemas.search import SearchQuery
from app.services.search.service import find_candidates
from tests.services.search.fixtures import NANTES_LAT, NANTES_LON, NOW, SearchWorld, slot_ids

HERE = {"lat": NANTES_LAT, "lon": NANTES_LON}


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


async def test_medecin_traitant_slots_come_first(world: SearchWorld) -> None:
    territory = await world.territory()
    doctor = await world.professional(sas_participant=False)
    near = await world.professional(sas_participant=True)
    far_site = await world.site(territory, 8.0, doctor)
    near_site = await world.site(territory, 0.5, near)
    near_slot = await world.slot(near, near_site, minutes(30))
    doctor_slot = await world.slot(doctor, far_site, timedelta(hours=20))
    principal, _ = await world.regulator(territory)

    query = SearchQuery.model_validate({"location": HERE, "medecin_traitant_rpps": doctor["rpps"]})
    result = await find_candidates(world.session, principal, query, now=NOW)

    assert slot_ids(result) == [doctor_slot, near_slot]
    assert result.candidates[0].group == "medecin_traitant"
    assert "médecin traitant" in result.candidates[0].why


async def test_sas_participants_come_before_others(world: SearchWorld) -> None:
    territory = await world.territory()
    participant = await world.professional(sas_participant=True)
    other = await world.professional(sas_participant=False)
    other_slot = await world.slot(other, await world.site(territory, 0.5, other), minutes(30))
    late_slot = await world.slot(
        participant, await world.site(territory, 6.0, participant), timedelta(hours=30)
    )
    principal, _ = await world.regulator(territory)

    result = await find_candidates(
        world.session, principal, SearchQuery.model_validate({"location": HERE}), now=NOW
    )

    assert slot_ids(result) == [late_slot, other_slot]
    assert [c.group for c in result.candidates] == ["sas_participant", "other"]
    assert "not a SAS participant" in result.candidates[1].why


async def test_inside_a_group_minutes_to_start_plus_travel_minutes_rank(
    world: SearchWorld,
) -> None:
    territory = await world.territory()
    pro = await world.professional()
    near = await world.site(territory, 1.0, pro)
    far = await world.site(territory, 5.0, pro)
    near_late = await world.slot(pro, near, minutes(120))  # 120 + 2 = 122
    far_early = await world.slot(pro, far, minutes(60))  # 60 + 10 = 70
    near_early = await world.slot(pro, near, minutes(40))  # 40 + 2 = 42
    principal, _ = await world.regulator(territory)

    result = await find_candidates(
        world.session, principal, SearchQuery.model_validate({"location": HERE}), now=NOW
    )

    assert slot_ids(result) == [near_early, far_early, near_late]
    assert [round(c.score) for c in result.candidates] == [42, 70, 122]
    assert result.candidates[1].distance_km == pytest.approx(5.0, abs=0.02)


async def test_teleconsultation_ignores_distance(world: SearchWorld) -> None:
    territory = await world.territory()
    pro = await world.professional()
    far_away = await world.site(territory, 80.0, pro)  # far outside the 10 km radius
    near = await world.site(territory, 1.0, pro)
    far_vr = await world.slot(pro, far_away, minutes(15), modality="VR")
    near_vr = await world.slot(pro, near, minutes(25), modality="VR")
    far_amb = await world.slot(pro, far_away, timedelta(hours=5))
    principal, _ = await world.regulator(territory)

    result = await find_candidates(
        world.session, principal, SearchQuery.model_validate({"location": HERE}), now=NOW
    )

    assert far_amb not in slot_ids(result)
    assert slot_ids(result) == [far_vr, near_vr]
    assert result.candidates[0].score == pytest.approx(15.0)
    assert "distance not counted" in result.candidates[0].why


async def test_slot_starting_before_the_patient_could_arrive_is_not_offered(
    world: SearchWorld,
) -> None:
    # 8 km at 30 km/h is 16 min, plus the 10 min margin: nothing before now + 26 min.
    territory = await world.territory()
    pro = await world.professional()
    site = await world.site(territory, 8.0, pro)
    too_soon = await world.slot(pro, site, minutes(20))
    reachable = await world.slot(pro, site, minutes(30))
    teleconsultation = await world.slot(pro, site, minutes(5), modality="VR")
    principal, _ = await world.regulator(territory)

    result = await find_candidates(
        world.session, principal, SearchQuery.model_validate({"location": HERE}), now=NOW
    )

    assert too_soon not in slot_ids(result)
    assert set(slot_ids(result)) == {reachable, teleconsultation}


async def test_one_site_offers_at_most_three_slots_so_other_practices_show(
    world: SearchWorld,
) -> None:
    territory = await world.territory()
    busy_pro, other_pro = await world.professional(), await world.professional()
    busy = await world.site(territory, 0.5, busy_pro)
    other = await world.site(territory, 4.0, other_pro)
    for hour in range(1, 7):
        await world.slot(busy_pro, busy, timedelta(hours=hour))
    later_elsewhere = await world.slot(other_pro, other, timedelta(hours=8))
    principal, _ = await world.regulator(territory)

    query = SearchQuery.model_validate({"location": HERE})
    result = await find_candidates(world.session, principal, query, now=NOW)

    sites = [c.site.id for c in result.candidates]
    assert sites.count(uuid.UUID(busy["id"])) == 3
    assert later_elsewhere in slot_ids(result)
