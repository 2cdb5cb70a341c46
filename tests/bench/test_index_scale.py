"""bench/index_scale.py times the real `search_index` with the query the service would build:
this holds its `IndexQuery` to `find_candidates`'s, so the bench cannot drift from the service."""

import random
from datetime import datetime, time, timedelta
from typing import Any, cast

import pytest

from app.core.config import Settings
from app.schemas.search import LatLon, SearchQuery, SearchWindow
from app.services.audit.buffer import AuditBuffer
from app.services.search import service
from app.services.search.index.query import IndexQuery, search_index
from app.services.search.index.store import FreeSlots
from bench import index_scale


class _View:
    def __init__(self, slots: FreeSlots) -> None:
        self.slots = slots


@pytest.mark.parametrize("empty", [False, True])
async def test_the_bench_query_is_the_service_query(
    monkeypatch: pytest.MonkeyPatch, empty: bool
) -> None:
    now = index_scale.reference_now()
    index, principal, sites = index_scale.build_world(40, 10, now, random.Random(3))
    location = LatLon(lat=sites[0][0], lon=sites[0][1])  # rounded as a request's
    lat, lon = location.lat, location.lon
    window = None
    if empty:
        tomorrow = (now.astimezone(index_scale.PARIS) + timedelta(days=1)).date()
        window = SearchWindow(
            start=datetime.combine(tomorrow, time(1, 0), index_scale.PARIS),
            end=datetime.combine(tomorrow, time(4, 0), index_scale.PARIS),
        )
    seen: list[IndexQuery] = []

    def recording(slots: FreeSlots, q: IndexQuery) -> Any:
        seen.append(q)
        return search_index(slots, q)

    monkeypatch.setattr(service, "search_index", recording)
    settings = Settings()
    result = await service.find_candidates(
        None,
        principal,
        SearchQuery(location=location, window=window),
        now=now,
        settings=settings,
        index=_View(index),
        audit_sink=AuditBuffer(cast(Any, None)),  # kept in memory: never flushed here
    )
    bench_query = index_scale.index_query(index, principal, lat, lon, now, window, settings)
    assert len(seen) == 1
    assert vars(seen[0]) == vars(bench_query)
    # The synthetic world answers the default search and has nothing at night.
    assert (len(result.candidates) == 0) is empty
    assert bench_query.radii_m == (20_000.0, 30_000.0, 40_000.0, 50_000.0)


def test_the_synthetic_world_has_what_the_bench_says() -> None:
    now = index_scale.reference_now()
    index, _, sites = index_scale.build_world(200, 10, now, random.Random(5))
    assert len(sites) == 200
    directory = index.directory
    assert 200 <= len(directory.professionals) <= 600
    sas = sum(p.sas_participant for p in directory.professionals) / len(directory.professionals)
    assert 0.45 < sas < 0.75
    entries = [e for site in index.by_site for e in site]
    assert len(entries) == len(index) == 2_000
    assert {len(site) for site in index.by_site} == {10}
    starts = [datetime.fromtimestamp(e[0] / 1e6, index_scale.PARIS) for e in entries]
    assert all(s > now and s < now + timedelta(hours=72) for s in starts)
    assert all(8 <= s.hour < 19 and s.minute in (0, 20, 40) for s in starts)
    modalities = [e[2].modality for e in entries]
    assert modalities.count(0) > 0.75 * len(entries)  # AMB
    assert modalities.count(1) > 0  # HH
    assert modalities.count(2) > 0  # VR
