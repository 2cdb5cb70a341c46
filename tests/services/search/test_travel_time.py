"""Travel times from an OSRM table API (httpx.MockTransport speaking its protocol)."""

from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import httpx
import pytest

from app.schemas.search import SearchQuery
from app.services.search.service import find_candidates
from app.services.search.travel_time import OsrmTravelTimes
from tests.services.search.fixtures import NANTES_LAT, NANTES_LON, NOW, SearchWorld, slot_ids

Handler = Callable[[httpx.Request], httpx.Response]


def osrm_answering(minutes: list[float | None], seen: list[httpx.Request]) -> Handler:
    """An OSRM server whose table gives these driving minutes from source 0 to each destination."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        coords = request.url.path.rsplit("/", 1)[-1].split(";")
        assert len(coords) == len(minutes) + 1
        row = [0.0] + [None if m is None else m * 60 for m in minutes]
        return httpx.Response(200, json={"code": "Ok", "durations": [row]})

    return handle


@pytest.fixture
async def providers() -> AsyncIterator[list[OsrmTravelTimes]]:
    made: list[OsrmTravelTimes] = []
    yield made
    for provider in made:
        await provider.aclose()


def provider_for(handler: Handler, made: list[OsrmTravelTimes]) -> OsrmTravelTimes:
    provider = OsrmTravelTimes("http://osrm.test/", 0.3, transport=httpx.MockTransport(handler))
    made.append(provider)
    return provider


async def test_osrm_table_durations_become_minutes_from_the_patient(
    providers: list[OsrmTravelTimes],
) -> None:
    seen: list[httpx.Request] = []
    osrm = provider_for(osrm_answering([10.0, None], seen), providers)

    minutes = await osrm.minutes((47.2, -1.55), [(47.3, -1.5), (47.1, -1.6)])

    assert minutes == [10.0, None]
    [request] = seen
    assert request.url.path == (
        "/table/v1/driving/-1.550000,47.200000;-1.500000,47.300000;-1.600000,47.100000"
    )
    assert request.url.params["sources"] == "0"
    assert request.url.params["annotations"] == "duration"


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("slow"),
        httpx.Response(500, text="boom"),
        httpx.Response(200, json={"code": "InvalidQuery", "message": "bad"}),
        httpx.Response(200, json={"code": "Ok", "durations": [[0]]}),
        httpx.Response(200, text="not json"),
    ],
)
async def test_osrm_slow_down_or_wrong_answers_fall_back_to_none(
    providers: list[OsrmTravelTimes], failure: Exception | httpx.Response
) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if isinstance(failure, Exception):
            raise failure
        return failure

    osrm = provider_for(handle, providers)

    assert await osrm.minutes((47.2, -1.55), [(47.3, -1.5)]) is None


async def test_search_drops_slots_the_patient_cannot_reach_by_road(
    world: SearchWorld, providers: list[OsrmTravelTimes]
) -> None:
    # 2 km in a straight line (4 min at 30 km/h) but 40 min by road (a river, no bridge).
    territory = await world.territory()
    pro = await world.professional()
    site = await world.site(territory, 2.0, pro)
    too_soon_by_road = await world.slot(pro, site, timedelta(minutes=30))
    reachable = await world.slot(pro, site, timedelta(minutes=60))
    principal, _ = await world.regulator(territory)
    seen: list[httpx.Request] = []
    osrm = provider_for(osrm_answering([40.0], seen), providers)
    query = SearchQuery.model_validate({"location": {"lat": NANTES_LAT, "lon": NANTES_LON}})

    result = await find_candidates(world.session, principal, query, now=NOW, travel_times=osrm)

    assert too_soon_by_road not in slot_ids(result)
    assert slot_ids(result) == [reachable]
    assert "40 min of travel by road" in result.candidates[0].why
    assert len(seen) == 1  # one table request for the whole search


async def test_search_keeps_the_straight_line_when_osrm_is_down(
    world: SearchWorld, providers: list[OsrmTravelTimes]
) -> None:
    territory = await world.territory()
    pro = await world.professional()
    slot = await world.slot(pro, await world.site(territory, 2.0, pro), timedelta(minutes=30))
    principal, _ = await world.regulator(territory)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    query = SearchQuery.model_validate({"location": {"lat": NANTES_LAT, "lon": NANTES_LON}})
    result = await find_candidates(
        world.session, principal, query, now=NOW, travel_times=provider_for(down, providers)
    )

    assert slot_ids(result) == [slot]
    assert "in a straight line" in result.candidates[0].why


async def test_road_times_rank_the_candidates_they_filter(
    world: SearchWorld, providers: list[OsrmTravelTimes]
) -> None:
    # In a straight line the 1 km site is nearer; by road it is an hour away and the 3 km one
    # five minutes: ranked by road (what filtered them), the 3 km site's slot comes first.
    territory = await world.territory()
    pro_a, pro_b = await world.professional(), await world.professional()
    near_by_line = await world.slot(
        pro_a, await world.site(territory, 1.0, pro_a), timedelta(minutes=75)
    )  # 75 + 2 = 77 in a straight line, 75 + 60 = 135 by road
    near_by_road = await world.slot(
        pro_b, await world.site(territory, 3.0, pro_b), timedelta(minutes=80)
    )  # 80 + 6 = 86 in a straight line, 80 + 5 = 85 by road
    principal, _ = await world.regulator(territory)
    seen: list[httpx.Request] = []
    osrm = provider_for(osrm_answering([60.0, 5.0], seen), providers)
    query = SearchQuery.model_validate({"location": {"lat": NANTES_LAT, "lon": NANTES_LON}})

    result = await find_candidates(world.session, principal, query, now=NOW, travel_times=osrm)

    assert slot_ids(result) == [near_by_road, near_by_line]
    assert [c.score for c in result.candidates] == [85.0, 135.0]
    assert "5 min of travel by road" in result.candidates[0].why
