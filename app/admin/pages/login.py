"""Sign in and out of the admin pages (rules in app/admin/visit.py and app/admin/throttle.py)."""

import secrets

from fastapi import APIRouter, Form, Request
from sqlalchemy import select
from starlette.responses import RedirectResponse, Response

from app.admin import throttle
from app.admin.routing import AdminRoute
from app.admin.templating import page
from app.admin.visit import (
    LOGIN_COOKIE,
    FormVisit,
    close_session,
    find_visit,
    open_session,
    same_token,
    set_cookie,
)
from app.core.db import SessionDep
from app.core.security import hash_password, verify_password
from app.models import AdminUser
from app.services.audit import record as audit

router = APIRouter(route_class=AdminRoute)

# Verified when the email is unknown, so that a wrong email costs as long as a wrong password.
_NOBODY = hash_password(secrets.token_urlsafe(16))


def _next_page(target: str) -> str:
    """Where to go after signing in: an admin page only (never another site)."""
    safe = target.startswith("/admin") and "//" not in target and "\\" not in target
    return target if safe else "/admin"


def _login_form(
    request: Request, email: str = "", error: str = "", status_code: int = 200, suivant: str = ""
) -> Response:
    token = secrets.token_urlsafe(32)
    response = page(
        request,
        "login.html",
        None,
        status_code=status_code,
        login_token=token,
        email=email,
        error=error,
        suivant=_next_page(suivant),
    )
    set_cookie(request, response, LOGIN_COOKIE, token, 1)
    return response


@router.get("/login")
async def login_page(request: Request, session: SessionDep, suivant: str = "") -> Response:
    if await find_visit(session, request) is not None:
        return RedirectResponse(_next_page(suivant), status_code=303)
    return _login_form(request, suivant=suivant)


@router.post("/login")
async def login(
    request: Request,
    session: SessionDep,
    email: str = Form(default="", max_length=320),
    password: str = Form(default="", max_length=1024),
    csrf_token: str = Form(default="", max_length=200),
    suivant: str = Form(default="", max_length=2000),
) -> Response:
    if not same_token(csrf_token, request.cookies.get(LOGIN_COOKIE, "")):
        return _login_form(
            request, email, "Le formulaire a expiré : veuillez réessayer.", 403, suivant
        )
    email = email.strip().lower()
    address = request.client.host if request.client else "unknown"
    wait = await throttle.seconds_locked(session, email, address)
    if wait:
        minutes = (wait + 59) // 60
        return _login_form(
            request,
            email,
            f"Trop d'essais infructueux : réessayez dans {minutes} minute(s).",
            429,
            suivant,
        )
    user = (
        await session.execute(
            select(AdminUser.id, AdminUser.password_hash).where(
                AdminUser.email == email, AdminUser.active
            )
        )
    ).one_or_none()
    valid = verify_password(password, user.password_hash if user else _NOBODY)
    await throttle.record_attempt(session, email, address, valid and user is not None)
    if not valid or user is None:
        return _login_form(
            request, email, "Adresse électronique ou mot de passe incorrect.", 401, suivant
        )
    response = RedirectResponse(_next_page(suivant), status_code=303)
    await open_session(session, request, response, user.id)
    await audit.record(
        session, None, "admin.login", "admin_user", user.id, actor_label=f"admin_page:{email}"
    )
    return response


@router.post("/logout")
async def logout(request: Request, session: SessionDep, visit: FormVisit) -> Response:
    response = RedirectResponse("/admin/login", status_code=303)
    await close_session(session, request, response)
    await audit.record(session, visit.actor, "admin.logout", "admin_user", visit.user_id)
    return response
