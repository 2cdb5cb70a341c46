"""Admin-page tests over ASGI: an account, and a client signed in with it."""

import re

import httpx
import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import hash_password
from app.models import AdminUser

EMAIL = "coordination@cpts.example"
PASSWORD = "un mot de passe assez long"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = _CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


@pytest.fixture
async def admin_user(session: AsyncSession) -> str:
    await session.execute(
        insert(AdminUser).values(email=EMAIL, password_hash=hash_password(PASSWORD))
    )
    return EMAIL


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    form = await client.get("/admin/login")
    return await client.post(
        "/admin/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(form.text)},
    )


@pytest.fixture
async def signed_in(client: httpx.AsyncClient, admin_user: str) -> httpx.AsyncClient:
    answer = await sign_in(client, admin_user, PASSWORD)
    assert answer.status_code == 303, answer.text
    return client
