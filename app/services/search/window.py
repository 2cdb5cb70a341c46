"""The time window of a search: the request's, clamped to now → 72 h; by default to the end of
the day after tomorrow in each site's zone."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from app.core.errors import InvalidInput
from app.schemas.search import SearchWindow

MAX_AHEAD = timedelta(hours=72)


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
