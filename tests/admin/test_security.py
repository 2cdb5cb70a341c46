"""Admin pages: nothing works without a session, no form without its CSRF token, and guessing
a password is locked out."""

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.admin import PAGES
from app.admin.throttle import MAX_FAILURES_PER_EMAIL
from app.models import AuditEvent, Professional
from tests.admin.conftest import PASSWORD, csrf_of, sign_in
from tests.conftest import new_rpps


def _admin_routes() -> list[tuple[str, str]]:
    """Every admin page and form (method, path with ids filled), read from the app itself."""
    out = []
    for route in (r for module in PAGES for r in module.router.routes):
        path = "/admin" + getattr(route, "path", "")
        for method in sorted(getattr(route, "methods", set()) - {"HEAD"}):
            if path == "/admin/login":
                continue
            out.append((method, re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000001", path)))
    return out


ROUTES = _admin_routes()


def test_the_admin_has_its_pages_and_forms() -> None:
    assert len(ROUTES) >= 25, ROUTES
    assert ("POST", "/admin/professionnels/nouveau") in ROUTES


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_no_page_or_form_works_without_a_session(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    answer = await client.request(method, path, data={"name": "x", "rpps": new_rpps()})
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/admin/login")


async def test_a_form_without_a_session_changes_nothing(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    rpps = new_rpps()
    fields = {"rpps": rpps, "family_name": "Martin", "given_name": "Ana", "profession": "10"}
    answer = await client.post("/admin/professionnels/nouveau", data=fields)
    assert answer.status_code == 303
    assert await session.scalar(select(Professional).where(Professional.rpps == rpps)) is None


def _professional_form(token: str | None) -> dict[str, Any]:
    fields = {"rpps": new_rpps(), "family_name": "Martin", "given_name": "Ana", "profession": "10"}
    return fields | ({"csrf_token": token} if token is not None else {})


@pytest.mark.parametrize("token", [None, "", "forged-token"])
async def test_a_form_without_the_sessions_csrf_token_is_refused(
    signed_in: httpx.AsyncClient, session: AsyncSession, token: str | None
) -> None:
    form = _professional_form(token)
    answer = await signed_in.post("/admin/professionnels/nouveau", data=form)
    assert answer.status_code == 403
    assert "jeton de sécurité" in answer.text
    created = await session.scalar(select(Professional).where(Professional.rpps == form["rpps"]))
    assert created is None


async def test_the_same_form_with_the_token_is_taken(
    signed_in: httpx.AsyncClient, session: AsyncSession
) -> None:
    page = await signed_in.get("/admin/professionnels/nouveau")
    form = _professional_form(csrf_of(page.text))
    answer = await signed_in.post("/admin/professionnels/nouveau", data=form)
    assert answer.status_code == 303
    created = await session.scalar(select(Professional).where(Professional.rpps == form["rpps"]))
    assert created is not None
    audited = await session.scalar(
        select(AuditEvent.actor).where(
            AuditEvent.action == "professional.create", AuditEvent.resource_id == str(created.id)
        )
    )
    assert audited == "admin_page:coordination@cpts.example"


async def test_login_without_its_csrf_token_is_refused(
    client: httpx.AsyncClient, admin_user: str
) -> None:
    await client.get("/admin/login")
    answer = await client.post("/admin/login", data={"email": admin_user, "password": PASSWORD})
    assert answer.status_code == 403
    assert "snp_admin_session" not in answer.headers.get("set-cookie", "")


async def test_the_session_cookie_is_httponly_samesite_and_scoped(
    client: httpx.AsyncClient, admin_user: str
) -> None:
    answer = await sign_in(client, admin_user, PASSWORD)
    cookie = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith("snp_admin_session=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/admin" in cookie
    assert "Secure" not in cookie  # plain http here; https sets it (see the next test)


async def test_the_session_cookie_is_secure_over_https(admin_user: str, app: Any) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://test") as client:
        answer = await sign_in(client, admin_user, PASSWORD)
    cookies = [c for c in answer.headers.get_list("set-cookie") if "snp_admin_session=" in c]
    assert cookies
    assert "Secure" in cookies[0]


async def test_a_wrong_password_is_refused_and_recorded(
    client: httpx.AsyncClient, admin_user: str
) -> None:
    answer = await sign_in(client, admin_user, "not the password")
    assert answer.status_code == 401
    assert "incorrect" in answer.text
    assert (await client.get("/admin")).status_code == 303


async def test_repeated_failures_lock_the_account_even_for_the_right_password(
    client: httpx.AsyncClient, admin_user: str, session: AsyncSession
) -> None:
    for _ in range(MAX_FAILURES_PER_EMAIL):
        assert (await sign_in(client, admin_user, "wrong guess")).status_code == 401
    locked = await sign_in(client, admin_user, PASSWORD)
    assert locked.status_code == 429
    assert "réessayez dans" in locked.text
    assert (await client.get("/admin")).status_code == 303


async def test_logout_ends_the_session_and_both_are_audited(
    signed_in: httpx.AsyncClient, session: AsyncSession
) -> None:
    page = await signed_in.get("/admin")
    assert page.status_code == 200
    out = await signed_in.post("/admin/logout", data={"csrf_token": csrf_of(page.text)})
    assert out.status_code == 303
    assert (await signed_in.get("/admin")).status_code == 303
    actions = (
        await session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.actor == "admin_page:coordination@cpts.example")
            .order_by(AuditEvent.id)
        )
    ).all()
    assert actions == ["admin.login", "admin.logout"]


async def test_a_deactivated_account_loses_its_session(
    signed_in: httpx.AsyncClient, session: AsyncSession
) -> None:
    from app.models import AdminUser

    await session.execute(update(AdminUser).values(active=False))
    assert (await signed_in.get("/admin")).status_code == 303


async def test_admin_pages_are_not_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert not [p for p in paths if p.startswith("/admin")]


async def test_failed_logins_are_counted(client: httpx.AsyncClient, session: AsyncSession) -> None:
    from app.models import AdminLoginAttempt

    await sign_in(client, "nobody@cpts.example", "whatever it is")
    count = await session.scalar(
        select(func.count()).where(AdminLoginAttempt.email == "nobody@cpts.example")
    )
    assert count == 1


@pytest.mark.parametrize(
    ("target", "landing"),
    [
        ("/admin/lieux", "/admin/lieux"),
        ("https://evil.example/", "/admin"),
        ("//evil.example/admin", "/admin"),
        ("/admin//evil.example", "/admin"),
    ],
)
async def test_login_returns_to_an_admin_page_only(
    client: httpx.AsyncClient, admin_user: str, target: str, landing: str
) -> None:
    form = await client.get("/admin/login", params={"suivant": target})
    answer = await client.post(
        "/admin/login",
        data={
            "email": admin_user,
            "password": PASSWORD,
            "csrf_token": csrf_of(form.text),
            "suivant": target,
        },
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == landing
