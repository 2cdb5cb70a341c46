"""Search: the best free slots near a patient, for a regulator, in its territories only.

Rules (issue 4):
- Scope: only active sites of the regulator's active territories, active professionals.
- Free: status 'free', or 'held' with an expired hold (free again at once, before the sweeper).
- Window: see `search.window.resolve_window` (default now → end of day+2 in the site's zone,
  at most 72 h ahead, never in the past).
- Radius: the territory's, else the département's default, else 20 km; with fewer than
  min(5, limit) candidates the radius grows by the enlargement step, up to 3 times and 100 km
  (`enlarged`, `radius_km` say so). Teleconsultation (VR) has no radius.
- Order: the médecin traitant's slots, then SAS participants, then the others; inside a group by
  score = minutes until the start + minutes of travel at SEARCH_TRAVEL_SPEED_KMH (VR: no travel).
  A slot that starts before the patient could arrive (travel + SEARCH_TRAVEL_MARGIN_MINUTES) is
  not offered. With OSRM_URL set, the statement's best 2 × limit candidates (by the straight
  line) are asked for their road times, which then filter them (never loosening the straight
  line's filter) and rank them inside their groups: score = minutes until the start + road
  minutes, or the straight line's where a site is unroutable (`why` says which was used).
- Filters: modalities, specialty (exact code), languages (the professional speaks at least one
  of them), accessible (true: accessible sites only).
- Every search is audited: who, how many candidates, the radius; never the patient's location.
- Every answer carries its `search_id` (`search.reference`): a hold quoting it records the
  search's time and the distance to the held slot (the indicators' facts).
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.config import Settings, get_settings
from app.core.crypto import cipher_for
from app.schemas.search import LatLon, SearchQuery, SearchResult
from app.services.audit import record as audit
from app.services.audit.buffer import AuditBuffer
from app.services.search.index.query import IndexQuery, search_index
from app.services.search.index.store import FreeSlots
from app.services.search.location import centroid_or_refuse, patient_location
from app.services.search.radius import search_radius
from app.services.search.ranking import GROUPS, explain
from app.services.search.reference import SearchReference, seal_reference
from app.services.search.scope import TerritoryScope, territories_in, territories_of
from app.services.search.sql import RANKED_SLOTS_SQL, SEARCH_SQL
from app.services.search.travel_time import (
    OsrmTravelTimes,
    straight_line_minutes,
    travel_time_provider,
)
from app.services.search.window import resolve_window

ALL_MODALITIES = ["AMB", "HH", "VR"]


class IndexView(Protocol):
    """What a search reads of the search index (`search.index.live.SearchIndex`)."""

    @property
    def slots(self) -> FreeSlots | None: ...


ENOUGH_CANDIDATES = 5

_CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")


async def _road_filter(
    provider: OsrmTravelTimes,
    here: tuple[float, float],
    rows: list[Any],
    now: datetime,
    margin_minutes: float,
) -> tuple[list[Any], dict[Any, float]]:
    """Drop in-person slots the patient cannot reach by road in time; None: keep them all."""
    points = {r.site_id: (r.site_lat, r.site_lon) for r in rows if r.modality != "VR"}
    sites = list(points)
    minutes = await provider.minutes(here, [points[s] for s in sites])
    if minutes is None:
        return rows, {}
    road = {s: m for s, m in zip(sites, minutes, strict=True) if m is not None}
    kept = [
        r
        for r in rows
        if r.modality == "VR"
        or r.site_id not in road
        or (r.start_at - now).total_seconds() / 60 >= road[r.site_id] + margin_minutes
    ]
    return kept, road


@dataclass(frozen=True)
class SearchAnswer:
    """A search's answer as plain values (the `SearchResult` shape): serialised once by orjson
    for the HTTP answer, or validated into the model where a caller works with it."""

    data: dict[str, Any]

    def json(self) -> bytes:
        """The answer's JSON, as `SearchResult.model_dump_json` spells it (tested equal)."""
        return orjson.dumps(self.data, default=_uuid_text, option=orjson.OPT_UTC_Z)

    def result(self) -> SearchResult:
        return SearchResult.model_validate(self.data)

    @property
    def candidates(self) -> list[dict[str, Any]]:
        candidates: list[dict[str, Any]] = self.data["candidates"]
        return candidates


def _uuid_text(value: Any) -> str:
    """What orjson cannot spell itself: the driver's own UUID type (the SQL search's rows)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not part of a search answer")


async def find_candidates(
    session: AsyncSession | None,
    principal: Principal,
    query: SearchQuery,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
    travel_times: OsrmTravelTimes | None = None,
    plans_per_execution: bool = False,
    index: IndexView | None = None,
    audit_sink: AuditBuffer | None = None,
) -> SearchResult:
    """`rank_candidates`' answer as the `SearchResult` model."""
    answer = await rank_candidates(
        session,
        principal,
        query,
        now=now,
        settings=settings,
        travel_times=travel_times,
        plans_per_execution=plans_per_execution,
        index=index,
        audit_sink=audit_sink,
    )
    return answer.result()


async def rank_candidates(
    session: AsyncSession | None,
    principal: Principal,
    query: SearchQuery,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
    travel_times: OsrmTravelTimes | None = None,
    plans_per_execution: bool = False,
    index: IndexView | None = None,
    audit_sink: AuditBuffer | None = None,
) -> SearchAnswer:
    """Ranked free slots near the patient in the principal's territories (rules: module doc).

    `travel_times` overrides the provider configured by OSRM_URL (tests, benchmarks). `index`:
    the process's in-memory index (`search.index`, the caller judged it usable: `serving`),
    read instead of the SQL statement, with the same answer; then the patient's commune and the
    territories come from its directory, and nothing touches `session` when `audit_sink` takes
    the audit event (the search's buffered trail).
    """
    now = now or datetime.now(UTC)
    settings = settings or get_settings()
    slots = index.slots if index is not None else None
    if slots is not None:
        directory = slots.directory
        if isinstance(query.location, LatLon):
            lat, lon = query.location.lat, query.location.lon
        else:
            code = query.location.insee_code
            lat, lon = centroid_or_refuse(query.location, directory.centroids.get(code))
        territories = territories_in(directory.territories, principal)
    else:
        session = _needed(session)
        lat, lon = await patient_location(session, query.location)
        territories = await territories_of(session, principal, settings.api_key_cache_seconds)
    window = resolve_window(query.window, now, sorted({t.timezone for t in territories}))
    radius = search_radius(territories)
    modalities = query.modalities or ALL_MODALITIES
    provider = travel_times or travel_time_provider(settings)
    # Road times can only remove candidates: fetch a few more to still fill the limit.
    fetch = min(query.limit * 2, 100) if provider else query.limit
    metres_per_minute = settings.search_travel_speed_kmh * 1000 / 60
    params: dict[str, Any] = {
        "lat": lat,
        "lon": lon,
        "now": now,
        "window_start": window.start,
        "window_end": window.end,
        "explicit_end": window.explicit,
        "modalities": modalities,
        "territory_ids": [t.id for t in territories],
        "accessible": bool(query.accessible),
        "specialty": query.specialty,
        "languages": query.languages,
        "mt_rpps": query.medecin_traitant_rpps,
        "metres_per_minute": metres_per_minute,
        "margin_seconds": settings.search_travel_margin_minutes * 60,
        "site_cap": settings.search_site_cap,
        "per_site": min(settings.search_slots_per_site, fetch),
        # Rows of the nearest sites that estimate the answer's worst score (never cut it).
        "row_cap": max(3 * fetch, 30),
        "limit": fetch,
    }
    # Teleconsultation alone has no radius to enlarge.
    steps = [radius.base_km] if modalities == ["VR"] else radius.steps()
    params.update(
        radius_m=steps[-1] * 1000,
        radii_m=[r * 1000 for r in steps],
        base_radius_m=radius.base_km * 1000,
        enough=min(ENOUGH_CANDIDATES, query.limit),
    )
    # Without a road filter the statement writes its own audit event (one round trip); with
    # one, the count is known only after the filter, so the event is written after it; the
    # index's answers are audited after it too.
    audited_in_sql = provider is None and slots is None
    if audited_in_sql:
        params.update(
            **audit.actor_params(principal),
            audit_territory_id=territories[0].id if len(territories) == 1 else None,
            audit_detail=orjson.dumps(_audit_detail(territories, query)).decode(),
        )
    rows: list[Any] = []
    if slots is not None:
        if territories:
            rows = list(search_index(slots, _index_query(params))[0])
    elif territories:  # a client without territories sees nothing (and costs no query)
        session = _needed(session)
        if not plans_per_execution:
            # A generic plan of the search cannot see its radius, window or modalities and runs
            # far slower; the search's own pool sets this per connection (app/core/db.py).
            await session.execute(_CUSTOM_PLANS)
        statement = SEARCH_SQL if audited_in_sql else RANKED_SLOTS_SQL
        rows = list(await session.execute(statement, params))
    # The statement chose the radius (every row carries it); with no row, it is the largest.
    radius_km = rows[0].chosen_radius_m / 1000 if rows else steps[-1]

    road: dict[Any, float] = {}
    if provider is not None and rows:
        rows, road = await _road_filter(
            provider, (lat, lon), rows, now, settings.search_travel_margin_minutes
        )
        # Rank by what filtered: the road time where it is known.
        rows.sort(key=lambda r: (r.grp, _score(r, now, road), r.start_at, r.slot_id))
    rows = rows[: query.limit]

    candidates = [_candidate(r, now, radius.base_km, road, settings) for r in rows]
    answer = SearchAnswer(
        {
            "candidates": candidates,
            "radius_km": float(radius_km),
            "enlarged": radius_km > radius.base_km,
            "window": {"start": window.start, "end": window.reported_end},
            "search_id": seal_reference(
                cipher_for(settings.patient_data_key),
                principal.client_id,
                SearchReference(now, lat, lon),
            ),
        }
    )
    if not (audited_in_sql and territories):
        territory_id = territories[0].id if len(territories) == 1 else None
        detail = {
            "candidates": len(candidates),
            "radius_km": answer.data["radius_km"],
            "enlarged": answer.data["enlarged"],
            **_audit_detail(territories, query),
        }
        if audit_sink is not None:
            audit_sink.add(
                principal.client_id,
                principal.label,
                "search.run",
                "search",
                None,
                territory_id,
                detail,
                now,
            )
        else:
            await audit.record(
                _needed(session),
                principal,
                "search.run",
                "search",
                territory_id=territory_id,
                detail=detail,
            )
    return answer


def _needed(session: AsyncSession | None) -> AsyncSession:
    """The session, where the search needs one (only the index path with a sink has none)."""
    if session is None:
        raise RuntimeError("a search outside the index needs a database session")
    return session


def _index_query(params: dict[str, Any]) -> IndexQuery:
    """The SQL statement's parameters, as the index reads them."""
    return IndexQuery(
        lat=params["lat"],
        lon=params["lon"],
        now=params["now"],
        window_start=params["window_start"],
        window_end=params["window_end"],
        explicit_end=params["explicit_end"],
        modalities=tuple(params["modalities"]),
        territory_ids=tuple(params["territory_ids"]),
        accessible=params["accessible"],
        specialty=params["specialty"],
        languages=tuple(params["languages"]) if params["languages"] is not None else None,
        mt_rpps=params["mt_rpps"],
        metres_per_minute=params["metres_per_minute"],
        margin_seconds=params["margin_seconds"],
        site_cap=params["site_cap"],
        per_site=params["per_site"],
        row_cap=params["row_cap"],
        limit=params["limit"],
        radii_m=tuple(params["radii_m"]),
        enough=params["enough"],
    )


def _score(row: Any, now: datetime, road: dict[Any, float]) -> float:
    """The statement's score, with the road minutes for the straight line's where known."""
    travel = None if row.modality == "VR" else road.get(row.site_id)
    if travel is None:
        return float(row.score)
    minutes_to_start: float = (row.start_at - now).total_seconds() / 60
    return minutes_to_start + travel


def _candidate(
    row: Any, now: datetime, base_radius_km: float, road: dict[Any, float], settings: Settings
) -> dict[str, Any]:
    """A `Candidate`, as plain values (`SearchAnswer`)."""
    distance_km = float(row.distance_m) / 1000
    group = GROUPS[row.grp]
    travel = road.get(row.site_id)
    why = explain(
        group,
        row.modality,
        distance_km,
        (row.start_at - now).total_seconds() / 60,
        travel
        if travel is not None
        else straight_line_minutes(distance_km, settings.search_travel_speed_kmh),
        base_radius_km,
        road_time=travel is not None,
    )
    return {
        "slot_id": row.slot_id,
        "start": row.start_at,
        "end": row.end_at,
        "modality": row.modality,
        "distance_km": round(distance_km, 3),
        "professional": {
            "id": row.professional_id,
            "rpps": row.rpps,
            "family_name": row.family_name,
            "given_name": row.given_name,
        },
        "site": {
            "id": row.site_id,
            "name": row.site_name,
            "address": row.address,
            "postcode": row.postcode,
        },
        "territory_id": row.territory_id,
        "group": group,
        "score": round(float(_score(row, now, road)), 2),
        "why": why,
    }


def _audit_detail(territories: list[TerritoryScope], query: SearchQuery) -> dict[str, Any]:
    """What the trail keeps of a search (with the count and radius): never the patient's place."""
    return {
        "limit": query.limit,
        "modalities": query.modalities or ALL_MODALITIES,
        "territory_ids": [str(t.id) for t in territories],
    }
