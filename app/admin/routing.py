"""The admin pages' route class: a refusal becomes a French HTML page, never problem+json.

A missing session sends the visitor to the login page (a form posted without one changes
nothing); a form without the session's CSRF token is a 403; a service's `AppError` (an unknown
id, a bad cursor) is shown with its status.
"""

from collections.abc import Callable, Coroutine
from html import escape
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.responses import HTMLResponse, RedirectResponse, Response

from app.admin.context import url
from app.admin.visit import CsrfRefused, LoginRequired
from app.core.errors import AppError, NotFound

_TITLES = {403: "Formulaire refusé", 404: "Introuvable"}
_TEXTS = {
    403: "Ce formulaire n'a pas le jeton de sécurité de votre session (il a peut-être expiré). "
    "Revenez à la page et recommencez.",
    404: "Cet élément n'existe pas (ou plus).",
}


def _refusal_page(status: int, text: str) -> Response:
    title = _TITLES.get(status, "Demande refusée")
    return HTMLResponse(
        f'<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>{title}</title>'
        '<link rel="stylesheet" href="/admin/static/admin.css"></head><body><main>'
        f'<h1>{title}</h1><p>{escape(text)}</p><p><a href="/admin">Revenir au tableau de bord'
        "</a></p></main></body></html>",
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


class AdminRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                target = request.url.path if request.method == "GET" else None
                return RedirectResponse(url("/admin/login", suivant=target), status_code=303)
            except CsrfRefused:
                return _refusal_page(403, _TEXTS[403])
            except NotFound:
                return _refusal_page(404, _TEXTS[404])
            except AppError as exc:
                return _refusal_page(exc.status, "Demande refusée : paramètres invalides.")

        return route
