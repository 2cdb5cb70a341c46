"""The admin pages under `/admin`, in French, for the CPTS coordinator (issue 13).

Server-rendered HTML (Jinja2) over the same services as the API, so a form is validated like the
API's body and audited like the API's write (`app/admin/forms.py` turns the refusals into French
messages next to the fields). Every form works without JavaScript; htmx (vendored in `static/`)
only refreshes list results as one types. Sessions, CSRF and the login lockout:
`app/admin/visit.py`, `app/admin/throttle.py`; refusals as HTML: `app/admin/routing.py`. The
pages are left out of the OpenAPI document.
"""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.admin.pages import (
    audit,
    clients,
    dashboard,
    en_sus,
    indicators,
    login,
    professionals,
    sites,
    slots_week,
    territories,
    territory,
)

PAGES = (
    login,
    dashboard,
    professionals,
    sites,
    slots_week,
    clients,
    en_sus,
    audit,
    indicators,
    territory,
    territories,
)


def install(app: FastAPI) -> None:
    """Mount the admin pages and their static files on `app`."""
    for module in PAGES:
        app.include_router(module.router, prefix="/admin", include_in_schema=False)
    app.mount(
        "/admin/static",
        StaticFiles(directory=Path(__file__).parent / "static"),
        name="admin-static",
    )
