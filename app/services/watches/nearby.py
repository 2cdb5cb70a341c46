"""Is an opening near a watch? Decided in memory, so a watch costs no query while nothing
changes near it: only an opening that passes here runs the watch's search.

Near means what the search could return at most: one of the regulator's territories, one of the
search's modalities, a start inside the search's window as it resolves now, and (in person)
within the largest radius the search may enlarge to. The search itself then decides (offered,
filters, ranking, limit); this filter only has to never drop what it would return.
"""

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.errors import InvalidInput
from app.schemas.search import SearchQuery
from app.services.search.location import patient_location
from app.services.search.radius import search_radius
from app.services.search.scope import territories_of
from app.services.search.service import ALL_MODALITIES
from app.services.search.window import resolve_window
from app.services.watches.changes import Opening

EARTH_RADIUS_KM = 6371.0
# Straight-line distance here and PostgreSQL's earth_distance differ by a fraction of a percent.
RADIUS_MARGIN = 1.02


@dataclass(frozen=True)
class Vicinity:
    """Where and when a watch's search may find slots."""

    query: SearchQuery
    lat: float
    lon: float
    territory_ids: frozenset[uuid.UUID]
    zones: list[str]
    modalities: frozenset[str]
    max_radius_km: float

    def check_window(self) -> None:
        """422 when the search's window is already over (`search.window.resolve_window`)."""
        resolve_window(self.query.window, datetime.now(UTC), self.zones)

    def near(self, opening: Opening, now: datetime) -> bool:
        if opening.territory_id not in self.territory_ids:
            return False
        if opening.modality not in self.modalities:
            return False
        try:
            window = resolve_window(self.query.window, now, self.zones)
        except InvalidInput:  # the watch's window is over: nothing can be near it any more
            return False
        if not (window.start <= opening.start_at <= window.end):
            return False
        if opening.modality == "VR":
            return True
        return distance_km(self.lat, self.lon, opening.lat, opening.lon) <= (
            self.max_radius_km * RADIUS_MARGIN
        )


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


async def vicinity_of(
    session: AsyncSession, principal: Principal, query: SearchQuery, cache_seconds: float
) -> Vicinity:
    """The watch's vicinity, read once when its stream opens (the commune's centroid, scope)."""
    lat, lon = await patient_location(session, query.location)
    territories = await territories_of(session, principal, cache_seconds)
    return Vicinity(
        query=query,
        lat=lat,
        lon=lon,
        territory_ids=frozenset(t.id for t in territories),
        zones=sorted({t.timezone for t in territories}),
        modalities=frozenset(query.modalities or ALL_MODALITIES),
        max_radius_km=search_radius(territories).steps()[-1] if territories else 0.0,
    )
