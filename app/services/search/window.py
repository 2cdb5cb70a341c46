"""The time window and the radius of a search, from the request and the territories' settings."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from app.core.errors import InvalidInput
from app.schemas.search import SearchWindow
from app.services.directory.radii import default_radius

MAX_AHEAD = timedelta(hours=72)
# When neither the territory nor the département table gives a radius (Guyane and Mayotte have
# none in the 2025 table): a rural-sized radius, and half of it as the enlargement step.
FALLBACK_RADIUS_KM = 20.0
# Enlarge at most this many steps, and never beyond MAX_RADIUS_KM.
MAX_ENLARGEMENTS = 3
MAX_RADIUS_KM = 100.0


@dataclass(frozen=True)
class TerritoryScope:
    """What the search needs of one of the regulator's territories."""

    id: uuid.UUID
    departement: str
    timezone: str
    radius_km: float | None
    enlargement_km: float | None


@dataclass(frozen=True)
class ResolvedWindow:
    """`start` ≥ now; slots must start before `end` (`explicit`) or before the end of the day
    after tomorrow in their site's zone (`not explicit`; `end` is then now + 72 h, the bound
    the index scan uses, and `reported_end` the default end in the territories' zone)."""

    start: datetime
    end: datetime
    explicit: bool
    reported_end: datetime


def end_of_day_after_tomorrow(now: datetime, zone: str) -> datetime:
    """Midnight at the end of the day after tomorrow, in `zone` (always ≤ now + 72 h)."""
    tz = ZoneInfo(zone)
    local_today = now.astimezone(tz).date()
    midnight = datetime.combine(local_today + timedelta(days=3), datetime.min.time(), tzinfo=tz)
    return min(midnight, now + MAX_AHEAD)


def resolve_window(window: SearchWindow | None, now: datetime, zones: list[str]) -> ResolvedWindow:
    """Clamp the requested window to [now, now + 72 h]; 422 when nothing of it is left.

    Default: now → end of the day after tomorrow in each site's zone. A start in the past becomes
    now and an end beyond 72 h becomes now + 72 h; a window that ends by now, or starts 72 h or
    more ahead, is refused (422, `location` names the bound).
    """
    horizon = now + MAX_AHEAD
    start = now if window is None or window.start is None else window.start
    if start >= horizon:
        raise InvalidInput(
            "the window starts 72 h or more ahead; searches look at most 72 h ahead",
            location="body.window.start",
        )
    start = max(start, now)
    default_end = max((end_of_day_after_tomorrow(now, z) for z in zones), default=horizon)
    if window is None or window.end is None:
        return ResolvedWindow(start, horizon, explicit=False, reported_end=default_end)
    if window.end <= now:
        raise InvalidInput("the window is entirely in the past", location="body.window.end")
    end = min(window.end, horizon)
    if end <= start:
        raise InvalidInput("the window ends before it starts", location="body.window.end")
    return ResolvedWindow(start, end, explicit=True, reported_end=end)


@dataclass(frozen=True)
class Radius:
    base_km: float
    step_km: float

    def steps(self) -> list[float]:
        """The radii to try in turn: the base, then up to MAX_ENLARGEMENTS enlargements."""
        radii = [self.base_km]
        if self.step_km > 0:
            for _ in range(MAX_ENLARGEMENTS):
                nxt = min(radii[-1] + self.step_km, MAX_RADIUS_KM)
                if nxt <= radii[-1]:
                    break
                radii.append(nxt)
        return radii


def territory_radius(territory: TerritoryScope) -> Radius:
    """The territory's own radius and step, else its département's, else the fallback."""
    table = default_radius(territory.departement)
    base = territory.radius_km or (table.radius_km if table else None) or FALLBACK_RADIUS_KM
    if territory.enlargement_km is not None:
        step = territory.enlargement_km
    elif table is not None and table.enlargement_km is not None:
        step = table.enlargement_km
    else:
        step = base / 2
    return Radius(base_km=float(base), step_km=float(step))


def search_radius(territories: list[TerritoryScope]) -> Radius:
    """With several territories, the widest base radius and the widest step among them."""
    if not territories:
        return Radius(FALLBACK_RADIUS_KM, 0.0)
    radii = [territory_radius(t) for t in territories]
    return Radius(max(r.base_km for r in radii), max(r.step_km for r in radii))
