"""`python -m app serve --demo` prints an admin-page account: kept across restarts while it
still opens the account, replaced otherwise."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli import DEMO_ADMIN_EMAIL, _demo_admin_password
from app.core.security import verify_password
from app.models import AdminUser


async def test_the_demo_admin_password_opens_the_account_and_is_kept(
    session: AsyncSession,
) -> None:
    first = await _demo_admin_password(session, None)
    stored = await session.scalar(
        select(AdminUser.password_hash).where(AdminUser.email == DEMO_ADMIN_EMAIL)
    )
    assert stored is not None
    assert verify_password(first, stored)
    assert await _demo_admin_password(session, first) == first
    replaced = await _demo_admin_password(session, "a password that does not open it")
    assert replaced != first
