"""Login throttling: repeated failures lock an account, or an address, for a while.

Rules: after `MAX_FAILURES_PER_EMAIL` failed tries for one email within `WINDOW`, or
`MAX_FAILURES_PER_ADDRESS` from one client address, the login form refuses every try (even a
right password) until the oldest of those failures leaves the window. Every try is recorded,
in the login's own transaction; tries older than a day are deleted as new ones come.
"""

from datetime import timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.models import AdminLoginAttempt

WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_ADDRESS = 20


async def _wait_for(
    session: AsyncSession, column: InstrumentedAttribute[str], value: str, limit: int
) -> int:
    """Seconds until `value` may try again (0: now), from its failures in the window."""
    failures = (
        select(AdminLoginAttempt.attempted_at)
        .where(
            column == value,
            AdminLoginAttempt.attempted_at > func.now() - WINDOW,
            AdminLoginAttempt.succeeded.is_(False),
        )
        .order_by(AdminLoginAttempt.attempted_at.desc())
        .limit(limit)
        .subquery()
    )
    row = (
        await session.execute(
            select(
                func.count(),
                func.extract("epoch", func.min(failures.c.attempted_at) + WINDOW - func.now()),
            ).select_from(failures)
        )
    ).one()
    count, seconds = row
    return max(1, int(seconds)) if count >= limit else 0


async def seconds_locked(session: AsyncSession, email: str, address: str) -> int:
    """How long the login stays refused for this email or address (0: not locked)."""
    return max(
        await _wait_for(session, AdminLoginAttempt.email, email, MAX_FAILURES_PER_EMAIL),
        await _wait_for(
            session, AdminLoginAttempt.client_address, address, MAX_FAILURES_PER_ADDRESS
        ),
    )


async def record_attempt(session: AsyncSession, email: str, address: str, succeeded: bool) -> None:
    await session.execute(
        delete(AdminLoginAttempt).where(
            AdminLoginAttempt.attempted_at < func.now() - timedelta(days=1)
        )
    )
    await session.execute(
        insert(AdminLoginAttempt).values(email=email, client_address=address, succeeded=succeeded)
    )
