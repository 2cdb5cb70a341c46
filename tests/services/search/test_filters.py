"""Which slots a search may offer: free ones, matching the filters, in the regulator's scope."""

from datetime import timedelta

import pytest
from sqlalchemy import text

from app.core.errors import InvalidInput
from app.schemas.search import SearchQuery
from app.services.directory.centroids import set_centroids
from app.services.search.service import find_candidates
from tests.services.search.fixtures import NANTES_LAT, NANTES_LON, NOW, SearchWorld, slot_ids

HERE = {"lat": NANTES_LAT, "lon": NANTES_LON}
QUERY = SearchQuery.model_validate({"location": HERE})


def query(**fields: object) -> SearchQuery:
    return SearchQuery.model_validate({"location": HERE, **fields})


async def test_expired_hold_is_offered_and_live_hold_booked_or_cancelled_are_not(
    world: SearchWorld,
) -> None:
    territory = await world.territory()
    pro = await world.professional()
    site = await world.site(territory, 1.0, pro)
    free = await world.slot(pro, site, timedelta(hours=1))
    expired = await world.slot(
        pro, site, timedelta(hours=2), status="held", hold_expires_at=NOW - timedelta(seconds=1)
    )
    await world.slot(
        pro, site, timedelta(hours=3), status="held", hold_expires_at=NOW + timedelta(minutes=4)
    )
    await world.slot(pro, site, timedelta(hours=4), status="booked")
    await world.slot(pro, site, timedelta(hours=5), status="cancelled")
    principal, _ = await world.regulator(territory)

    result = await find_candidates(world.session, principal, QUERY, now=NOW)

    assert slot_ids(result) == [free, expired]


async def test_modalities_filter_keeps_only_those_asked(world: SearchWorld) -> None:
    territory = await world.territory()
    pro = await world.professional()
    site = await world.site(territory, 1.0, pro)
    await world.slot(pro, site, timedelta(hours=1), modality="AMB")
    home = await world.slot(pro, site, timedelta(hours=2), modality="HH")
    await world.slot(pro, site, timedelta(hours=3), modality="VR")
    principal, _ = await world.regulator(territory)

    result = await find_candidates(world.session, principal, query(modalities=["HH"]), now=NOW)

    assert slot_ids(result) == [home]


async def test_specialty_languages_and_accessibility_filter(world: SearchWorld) -> None:
    territory = await world.territory()
    gp = await world.professional(specialty="SM54")
    paediatrician = await world.professional(specialty="SM40")
    plain = await world.site(territory, 1.0, gp, paediatrician)
    ramp = await world.site(territory, 2.0, gp, accessible=True)
    gp_plain = await world.slot(gp, plain, timedelta(hours=1))
    paed_plain = await world.slot(paediatrician, plain, timedelta(hours=1))
    gp_ramp = await world.slot(gp, ramp, timedelta(hours=2))
    await world.session.execute(
        text("UPDATE professionals SET languages = '{fr,en}' WHERE id = :id"),
        {"id": paediatrician["id"]},
    )
    principal, _ = await world.regulator(territory)

    async def ids(**fields: object) -> set[object]:
        found = await find_candidates(world.session, principal, query(**fields), now=NOW)
        return set(slot_ids(found))

    assert await ids(specialty="SM40") == {paed_plain}
    assert await ids(languages=["EN", "es"]) == {paed_plain}  # speaks at least one of them
    assert await ids(accessible=True) == {gp_ramp}
    assert await ids(accessible=False) == {gp_plain, paed_plain, gp_ramp}


async def test_inactive_professionals_and_sites_are_not_offered(world: SearchWorld) -> None:
    territory = await world.territory()
    leaving = await world.professional()
    staying = await world.professional()
    closed = await world.site(territory, 1.0, staying)
    open_site = await world.site(territory, 1.0, leaving, staying)
    await world.slot(leaving, open_site, timedelta(hours=1))
    await world.slot(staying, closed, timedelta(hours=1))
    kept = await world.slot(staying, open_site, timedelta(hours=3))
    await world.client.delete(f"/v1/professionals/{leaving['id']}", headers=world.admin)
    await world.client.delete(f"/v1/sites/{closed['id']}", headers=world.admin)
    principal, _ = await world.regulator(territory)

    result = await find_candidates(world.session, principal, QUERY, now=NOW)

    assert slot_ids(result) == [kept]


async def test_sites_of_other_territories_are_never_offered(world: SearchWorld) -> None:
    mine = await world.territory()
    theirs = await world.territory()
    pro = await world.professional()
    own = await world.slot(pro, await world.site(mine, 3.0, pro), timedelta(hours=2))
    await world.slot(pro, await world.site(theirs, 0.1, pro), timedelta(hours=1))
    principal, _ = await world.regulator(mine)
    outsider, _ = await world.regulator(await world.territory())

    assert slot_ids(await find_candidates(world.session, principal, QUERY, now=NOW)) == [own]
    nothing = await find_candidates(world.session, outsider, QUERY, now=NOW)
    assert nothing.candidates == []


async def test_insee_code_searches_from_the_commune_centroid(world: SearchWorld) -> None:
    territory = await world.territory()
    pro = await world.professional()
    slot = await world.slot(pro, await world.site(territory, 2.0, pro), timedelta(hours=1))
    await set_centroids(world.session, [("44109", NANTES_LAT, NANTES_LON)])
    principal, _ = await world.regulator(territory)

    result = await find_candidates(
        world.session, principal, query(location={"insee_code": "44109"}), now=NOW
    )

    assert slot_ids(result) == [slot]
    assert result.candidates[0].distance_km == pytest.approx(2.0, abs=0.02)


@pytest.mark.parametrize("code", ["99999", "44001"])
async def test_unknown_commune_or_commune_without_centroid_is_422(
    world: SearchWorld, code: str
) -> None:
    await world.session.execute(
        text("UPDATE communes SET lat = NULL, lon = NULL WHERE insee_code = '44001'")
    )
    principal, _ = await world.regulator(await world.territory())

    with pytest.raises(InvalidInput) as refused:
        await find_candidates(
            world.session, principal, query(location={"insee_code": code}), now=NOW
        )

    assert refused.value.extensions["location"] == "body.location.insee_code"


async def test_every_search_is_audited_with_its_count_and_no_location(
    world: SearchWorld,
) -> None:
    territory = await world.territory()
    pro = await world.professional()
    await world.slot(pro, await world.site(territory, 1.0, pro), timedelta(hours=1))
    principal, _ = await world.regulator(territory)
    with_mt = query(medecin_traitant_rpps=pro["rpps"])

    await find_candidates(world.session, principal, with_mt, now=NOW)
    await find_candidates(world.session, principal, query(specialty="SM99"), now=NOW)

    rows = (
        await world.session.execute(
            text(
                "SELECT detail, territory_id FROM audit_events"
                " WHERE action = 'search.run' AND actor_client_id = :id ORDER BY occurred_at, id"
            ),
            {"id": principal.client_id},
        )
    ).all()
    assert [r.detail["candidates"] for r in rows] == [1, 0]
    assert all(r.territory_id == territory for r in rows)
    flat = str([r.detail for r in rows])
    assert str(NANTES_LAT) not in flat
    assert pro["rpps"] not in flat
