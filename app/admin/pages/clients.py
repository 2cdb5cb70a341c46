"""Clients API: list, create (the key shown once), revoke, rotate the key or the webhook secret,
see the webhook's health and failed deliveries and replay one (`services/directory/api_clients`,
`client_keys`, `webhook_secrets`, `services/webhooks/admin`)."""

import uuid
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from app.admin import client_summary
from app.admin.context import territory_context, url
from app.admin.forms import parse, refusal_messages, text_or_none, words
from app.admin.lookups import professional_ids
from app.admin.routing import AdminRoute
from app.admin.templating import page
from app.admin.visit import FormVisit, PageVisit, Visit
from app.core.auth import PrincipalCache
from app.core.db import SessionDep
from app.core.errors import AppError
from app.models import ApiClient, Territory
from app.schemas.api_client import ApiClientCreate, KeyRotation
from app.services.directory import api_clients, client_keys, webhook_secrets
from app.services.webhooks import admin as webhook_admin

router = APIRouter(prefix="/clients", route_class=AdminRoute)
PAGE_SIZE = 50
FAILED_SHOWN = 20


def _forget(request: Request, client_id: uuid.UUID) -> None:
    """This process stops trusting the client's cached key at once (others: within the TTL)."""
    cache: PrincipalCache = request.app.state.principal_cache
    cache.forget_client(client_id)


@router.get("")
async def list_page(
    request: Request,
    session: SessionDep,
    visit: PageVisit,
    territoire: str | None = None,
    cursor: str | None = None,
) -> Response:
    territory, territories = await territory_context(session, territoire)
    try:
        items, next_cursor = await client_summary.list_clients(session, cursor, PAGE_SIZE)
    except AppError:
        items, next_cursor = await client_summary.list_clients(session, None, PAGE_SIZE)
    return page(
        request,
        "clients.html",
        visit,
        section="clients",
        territory=territory,
        territories=territories,
        items=items,
        next_url=next_cursor and url("/admin/clients", territoire=territoire, cursor=next_cursor),
    )


async def _form_page(
    request: Request,
    session: AsyncSession,
    visit: Visit,
    territoire: str | None,
    values: dict[str, Any],
    errors: dict[str, str],
) -> Response:
    territory, territories = await territory_context(session, territoire)
    return page(
        request,
        "client_form.html",
        visit,
        status_code=422 if errors else 200,
        section="clients",
        territory=territory,
        territories=territories,
        values=values,
        errors=errors,
        all_territories=(
            await session.execute(select(Territory.id, Territory.name).order_by(Territory.name))
        ).all(),
    )


@router.get("/nouveau")
async def new_page(
    request: Request, session: SessionDep, visit: PageVisit, territoire: str | None = None
) -> Response:
    territory, _ = await territory_context(session, territoire)
    values = {"role": "practice_software", "territory_ids": [territory.id] if territory else []}
    return await _form_page(request, session, visit, territoire, values, {})


@router.post("/nouveau")
async def create(
    request: Request, session: SessionDep, visit: FormVisit, territoire: str | None = None
) -> Response:
    form = await request.form()
    ids, unknown = await professional_ids(session, words(form.get("professional_rpps")))
    values: dict[str, Any] = {
        "name": form.get("name", ""),
        "role": form.get("role", ""),
        "territory_ids": form.getlist("territory_ids"),
        "professional_ids": ids,
    }
    if webhook_url := text_or_none(form.get("webhook_url")):
        values["webhook_url"] = webhook_url
    data, errors = parse(ApiClientCreate, values)
    if unknown:
        errors["professional_ids"] = unknown
    if data is not None and not errors:
        try:
            async with session.begin_nested():
                created = await api_clients.create_client(session, visit.actor, data)

        except AppError as exc:
            errors = refusal_messages(exc)
        else:
            territory, territories = await territory_context(session, territoire)
            return page(
                request,
                "client_key.html",
                visit,
                status_code=201,
                section="clients",
                territory=territory,
                territories=territories,
                client=created,
                api_key=created.api_key,
                webhook_secret=created.webhook_secret,
                heading="Client créé",
            )
    shown = values | {
        "professional_rpps": form.get("professional_rpps", ""),
        "webhook_url": form.get("webhook_url", ""),
        "territory_ids": [str(t) for t in values["territory_ids"]],
    }
    return await _form_page(request, session, visit, territoire, shown, errors)


async def _detail(
    request: Request,
    session: AsyncSession,
    visit: Visit,
    client_id: uuid.UUID,
    territoire: str | None,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
) -> Response:
    """A client's page: its summary, its slots of the next 48 h, its webhook's health and its
    latest failed deliveries."""
    territory, territories = await territory_context(session, territoire)
    client = await client_summary.get_client(session, client_id)
    model = await session.get(ApiClient, client_id)
    webhook = await webhook_admin.webhook_health(session, model) if model else None
    failed: list[Any] = []
    if webhook is not None:
        failed, _ = await webhook_admin.list_deliveries(
            session, client_id, "failed", None, FAILED_SHOWN
        )
    return page(
        request,
        "client_detail.html",
        visit,
        status_code=status_code,
        section="clients",
        territory=territory,
        territories=territories,
        client=client,
        slots=await client_summary.slots_next_48h(
            session, client_id, territory.id if territory else None
        ),
        webhook=webhook,
        failed=failed,
        errors=errors or {},
        notice=notice,
    )


_NOTICES = {
    "revoque": "Client révoqué : sa clé est refusée.",
    "rejoue": "Livraison remise en file : elle repart tout de suite, avec toutes ses tentatives.",
    "reactive": "Webhook réactivé : les nouveaux événements lui sont de nouveau envoyés.",
}


@router.get("/{client_id}")
async def detail_page(
    request: Request,
    session: SessionDep,
    visit: PageVisit,
    client_id: uuid.UUID,
    territoire: str | None = None,
    fait: str | None = None,
) -> Response:
    return await _detail(
        request, session, visit, client_id, territoire, notice=_NOTICES.get(fait or "")
    )


def _back(client_id: uuid.UUID, territoire: str | None, done: str) -> Response:
    return RedirectResponse(
        url(f"/admin/clients/{client_id}", territoire=territoire, fait=done), 303
    )


@router.post("/{client_id}/revoquer")
async def revoke(
    request: Request,
    session: SessionDep,
    visit: FormVisit,
    client_id: uuid.UUID,
    territoire: str | None = None,
) -> Response:
    await api_clients.revoke_client(session, visit.actor, client_id)
    _forget(request, client_id)
    return _back(client_id, territoire, "revoque")


@router.post("/{client_id}/nouvelle-cle")
async def rotate(
    request: Request,
    session: SessionDep,
    visit: FormVisit,
    client_id: uuid.UUID,
    territoire: str | None = None,
) -> Response:
    form = await request.form()
    rotation, errors = parse(KeyRotation, {"grace_seconds": form.get("grace_seconds") or 0})
    if rotation is None:
        return await _detail(
            request, session, visit, client_id, territoire, status_code=422, errors=errors
        )
    try:
        async with session.begin_nested():
            rotated = await client_keys.rotate_key(session, visit.actor, client_id, rotation)
    except AppError as exc:
        if exc.status == 404:
            raise
        refused = {"__all__": "Un client révoqué ne reçoit pas de nouvelle clé."}
        return await _detail(
            request, session, visit, client_id, territoire, status_code=exc.status, errors=refused
        )
    _forget(request, client_id)
    territory, territories = await territory_context(session, territoire)
    return page(
        request,
        "client_key.html",
        visit,
        section="clients",
        territory=territory,
        territories=territories,
        client=rotated,
        api_key=rotated.api_key,
        webhook_secret=None,
        previous_key_expires_at=rotated.previous_key_expires_at,
        heading="Nouvelle clé",
    )


@router.post("/{client_id}/nouveau-secret")
async def rotate_webhook_secret(
    request: Request,
    session: SessionDep,
    visit: FormVisit,
    client_id: uuid.UUID,
    territoire: str | None = None,
) -> Response:
    """A new webhook signing secret, shown once; the previous one also signs for 24 h."""
    try:
        async with session.begin_nested():
            rotated = await webhook_secrets.rotate_webhook_secret(session, visit.actor, client_id)
    except AppError as exc:
        if exc.status == 404:
            raise
        refused = {"__all__": "Ce client n'a pas de webhook actif : aucun secret à renouveler."}
        return await _detail(
            request, session, visit, client_id, territoire, status_code=exc.status, errors=refused
        )
    territory, territories = await territory_context(session, territoire)
    return page(
        request,
        "client_key.html",
        visit,
        section="clients",
        territory=territory,
        territories=territories,
        client=await client_summary.get_client(session, client_id),
        api_key=None,
        webhook_secret=rotated.webhook_secret,
        previous_secret_expires_at=rotated.previous_secret_expires_at,
        heading="Nouveau secret de webhook",
    )


@router.post("/{client_id}/livraisons/{delivery_id}/rejouer")
async def replay_delivery(
    request: Request,
    session: SessionDep,
    visit: FormVisit,
    client_id: uuid.UUID,
    delivery_id: int,
    territoire: str | None = None,
) -> Response:
    """Send a failed delivery again, from its first attempt (`webhooks.admin.replay`)."""
    try:
        async with session.begin_nested():
            await webhook_admin.replay(session, visit.actor, delivery_id, client_id=client_id)
    except AppError as exc:
        if exc.status == 404:
            raise
        refused = {
            "__all__": "Cette livraison ne peut pas être rejouée maintenant : elle est déjà en "
            "file, ou le webhook du client est désactivé ou révoqué."
        }
        return await _detail(
            request, session, visit, client_id, territoire, status_code=exc.status, errors=refused
        )
    return _back(client_id, territoire, "rejoue")


@router.post("/{client_id}/webhook/reactiver")
async def enable_webhook(
    request: Request,
    session: SessionDep,
    visit: FormVisit,
    client_id: uuid.UUID,
    territoire: str | None = None,
) -> Response:
    """Take deliveries again after the endpoint answered 410 Gone."""
    try:
        async with session.begin_nested():
            await webhook_admin.enable_webhook(session, visit.actor, client_id)
    except AppError as exc:
        if exc.status == 404:
            raise
        refused = {"__all__": "Ce client n'a pas d'adresse de webhook."}
        return await _detail(
            request, session, visit, client_id, territoire, status_code=exc.status, errors=refused
        )
    return _back(client_id, territoire, "reactive")
