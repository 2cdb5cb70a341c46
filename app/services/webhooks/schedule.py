"""When a delivery's next attempt is due, after an attempt that did not deliver it.

Rules: the first attempt leaves at once; after attempt n (1-based) fails, the next one waits
`delays[n - 1]` seconds, ±10 % of jitter (so a receiver back from an outage is not hit by every
event at once); after the last delay's attempt the delivery has failed. A 429 or 503 with a
Retry-After waits as asked instead (never longer than the longest delay).
"""

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

JITTER = 0.1


def next_delay(attempts: int, delays: list[float], retry_after: float | None) -> float | None:
    """Seconds until the next attempt after `attempts` attempts, or None: no attempt left."""
    if attempts > len(delays):
        return None
    if retry_after is not None:
        return min(retry_after, max(delays))
    delay = delays[attempts - 1]
    return delay * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311 (jitter only)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """A Retry-After header (seconds or an HTTP date) in seconds from now; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
