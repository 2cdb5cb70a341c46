"""Travel time from the patient to sites: an optional OSRM table API, else the straight line.

The provider is best effort: a search never fails or waits long because of it. When `OSRM_URL`
is unset, or the server is slow (over `OSRM_TIMEOUT_SECONDS`), down or answers something else than
an OSRM table, the caller gets `None` and keeps the straight-line estimate.
"""

import logging
from collections.abc import Sequence

import httpx

from app.core.config import Settings

logger = logging.getLogger(__name__)

Point = tuple[float, float]  # (lat, lon)


def straight_line_minutes(distance_km: float, speed_kmh: float) -> float:
    """Minutes to cover `distance_km` at the assumed travel speed."""
    return distance_km / speed_kmh * 60.0


class OsrmTravelTimes:
    """Driving durations from one origin to many destinations with one OSRM `table` request."""

    def __init__(
        self, base_url: str, timeout: float, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def minutes(
        self, origin: Point, destinations: Sequence[Point]
    ) -> list[float | None] | None:
        """Minutes from `origin` to each destination (None where unroutable); None on failure."""
        if not destinations:
            return []
        # OSRM takes lon,lat pairs; the origin is coordinate 0 and the only source.
        coords = ";".join(f"{lon:.6f},{lat:.6f}" for lat, lon in (origin, *destinations))
        url = f"{self.base_url}/table/v1/driving/{coords}"
        params = {"sources": "0", "annotations": "duration"}
        try:
            response = await self._client.get(url, params=params)
            response.raise_for_status()
            body = response.json()
            if body.get("code") != "Ok":
                raise ValueError(f"OSRM answered code {body.get('code')!r}")
            row = body["durations"][0][1:]
            if len(row) != len(destinations):
                raise ValueError("OSRM answered a table of the wrong size")
            return [None if seconds is None else float(seconds) / 60.0 for seconds in row]
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            # The exception's text may hold the request URL, hence the patient's coordinates:
            # log its kind only.
            logger.warning(
                "OSRM travel times unavailable (%s), using straight line", type(exc).__name__
            )
            return None

    async def aclose(self) -> None:
        await self._client.aclose()


_providers: dict[tuple[str, float], OsrmTravelTimes] = {}


def travel_time_provider(settings: Settings) -> OsrmTravelTimes | None:
    """The configured OSRM provider (one shared HTTP client per URL), or None when unset."""
    if not settings.osrm_url:
        return None
    key = (settings.osrm_url, settings.osrm_timeout_seconds)
    provider = _providers.get(key)
    if provider is None:
        provider = _providers[key] = OsrmTravelTimes(
            settings.osrm_url, settings.osrm_timeout_seconds
        )
    return provider
