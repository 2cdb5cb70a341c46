"""Requests per API client, limited by role: a 429 with `Retry-After` past the client's limit.

Each process counts in memory (the `limits` library's sliding-window counter) against its share
of the limit: the role's limit divided by the processes of the deployment (`RATE_LIMIT_PROCESSES`;
`python -m app serve` sets it to its worker count unless the operator counts the replicas too).
Chosen over a counter in PostgreSQL: a shared counter costs a write on every request, searches
included, where a regulator's search should cost one read; the price is that a client whose
requests all reach one process (a single keep-alive connection) gets that process's share only.
The limit is per client, so a practice software pushing in a loop is refused on its own key
while the regulators' searches go on (they also draw on database connections of their own).
"""

import math
import time
from collections.abc import Mapping

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from app.core.errors import AppError


class RateLimited(AppError):
    status, slug, title = 429, "rate-limited", "Too many requests"


def parse_limits(value: str) -> list[RateLimitItem]:
    """`"200/second;5000/minute"` → its items; empty → none (unlimited). ValueError if invalid."""
    return parse_many(value) if value.strip() else []


def _share(item: RateLimitItem, processes: int) -> RateLimitItem:
    return type(item)(max(1, item.amount // processes), item.multiples)


def deployment_processes(configured: int | None) -> int:
    """The processes sharing a limit: as configured, else one."""
    return configured or 1


class RateLimiter:
    """The per-client limits of each role, for this process's share."""

    def __init__(self, by_role: Mapping[str, str], processes: int) -> None:
        self.limits = {
            role: [_share(item, processes) for item in parse_limits(spec)]
            for role, spec in by_role.items()
        }
        self._limiter = SlidingWindowCounterRateLimiter(MemoryStorage())

    async def hit(self, role: str, client_key: str) -> None:
        """Count a request of `client_key`; RateLimited (429) when one of its limits is spent."""
        for item in self.limits.get(role, ()):
            if not await self._limiter.hit(item, client_key):
                stats = await self._limiter.get_window_stats(item, client_key)
                wait = max(1, math.ceil(stats.reset_time - time.time()))
                error = RateLimited(
                    f"this API client sent too many requests (at most {item} per server "
                    f"process); retry after {wait} s"
                )
                error.retry_after = wait
                raise error
