"""Who is using the admin pages: the session cookie, its CSRF token, and the actor it audits as.

Rules:
- The cookie holds a random token; the database keeps only its SHA-256 (`admin_sessions`), so a
  leaked table opens no session. The cookie is HttpOnly, SameSite=Lax, limited to `/admin`, and
  Secure whenever the page is served over https. A session lasts `SESSION_HOURS` at most.
- Every page but the login sends a visitor without a live session to `/admin/login`; a form
  posted without a session changes nothing and goes there too.
- Every form carries the session's CSRF token (`csrf_token`); a post without it, or with
  another one, is refused with a 403 before any change. The login form, posted before any
  session exists, carries a token matched against a cookie of its own (double submit).
- Admin-page changes are audited like the API's, with the actor `admin_page:<email>` and the
  account's id in `actor_client_id` (the audit table's actor column; no API client has that id).
"""

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from app.core.auth import Principal
from app.core.db import SessionDep
from app.models import AdminSession, AdminUser

SESSION_COOKIE = "snp_admin_session"
LOGIN_COOKIE = "snp_admin_login"
COOKIE_PATH = "/admin"
SESSION_HOURS = 8
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class AdminActor(Principal):
    """An admin-page account acting through the services (which take a `Principal`)."""

    @property
    def label(self) -> str:
        return f"admin_page:{self.name}"


@dataclass(frozen=True)
class Visit:
    """A signed-in visit: the account, its CSRF token and the actor the services audit."""

    user_id: uuid.UUID
    email: str
    csrf_token: str

    @property
    def actor(self) -> AdminActor:
        return AdminActor(client_id=self.user_id, name=self.email, role="admin")


class LoginRequired(Exception):
    """No live session: the visitor is sent to the login page (see `app.admin.install`)."""


class CsrfRefused(Exception):
    """A form posted without this session's CSRF token: refused, nothing changed."""


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def set_cookie(request: Request, response: Response, name: str, value: str, hours: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=hours * 3600,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


async def open_session(
    session: AsyncSession, request: Request, response: Response, user_id: uuid.UUID
) -> None:
    """Start a session for `user_id` and set its cookie (and forget the expired ones)."""
    await session.execute(delete(AdminSession).where(AdminSession.expires_at <= func.now()))
    token = secrets.token_urlsafe(32)
    session.add(
        AdminSession(
            token_hash=_token_hash(token),
            admin_user_id=user_id,
            csrf_token=secrets.token_urlsafe(32),
            expires_at=func.now() + timedelta(hours=SESSION_HOURS),
        )
    )
    await session.flush()
    set_cookie(request, response, SESSION_COOKIE, token, SESSION_HOURS)
    response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)


async def close_session(session: AsyncSession, request: Request, response: Response) -> None:
    """End the visitor's session (and every expired one, while at it)."""
    token = request.cookies.get(SESSION_COOKIE, "")
    await session.execute(
        delete(AdminSession).where(
            (AdminSession.token_hash == _token_hash(token))
            | (AdminSession.expires_at <= func.now())
        )
    )
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)


async def find_visit(session: AsyncSession, request: Request) -> Visit | None:
    """The live session of the request's cookie, its account active; else None."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    row = (
        await session.execute(
            select(AdminUser.id, AdminUser.email, AdminSession.csrf_token)
            .join(AdminUser, AdminUser.id == AdminSession.admin_user_id)
            .where(
                AdminSession.token_hash == _token_hash(token),
                AdminSession.expires_at > func.now(),
                AdminUser.active,
            )
        )
    ).one_or_none()
    return None if row is None else Visit(row.id, row.email, row.csrf_token)


async def current_visit(request: Request, session: SessionDep) -> Visit:
    """A page's visitor; without a live session, `LoginRequired`."""
    visit = await find_visit(session, request)
    if visit is None:
        raise LoginRequired
    return visit


def same_token(sent: object, expected: str) -> bool:
    return isinstance(sent, str) and bool(sent) and hmac.compare_digest(sent, expected)


async def form_visit(request: Request, visit: Annotated[Visit, Depends(current_visit)]) -> Visit:
    """A form's visitor: a live session and that session's CSRF token in the form."""
    form = await request.form()
    if not same_token(form.get(CSRF_FIELD), visit.csrf_token):
        raise CsrfRefused
    return visit


PageVisit = Annotated[Visit, Depends(current_visit)]
FormVisit = Annotated[Visit, Depends(form_visit)]
