"""Demandes en sus: the territory's requests by status, and one request as an admin may read it.

The list shows no patient data (no reason, no search criteria). The detail goes through
`services/en_sus.read_request`, so the API's rule (`services/en_sus/access.py`) decides what is
shown and the read is audited like the API's; an admin is never shown the reason.
"""

import uuid

from fastapi import APIRouter, Request
from sqlalchemy import text
from starlette.responses import Response

from app.admin.context import territory_context, url
from app.admin.routing import AdminRoute
from app.admin.templating import page
from app.admin.visit import PageVisit
from app.core.crypto import CipherDep
from app.core.db import SessionDep
from app.core.pagination import decode_cursor, encode_cursor
from app.services.en_sus import service as en_sus

router = APIRouter(prefix="/demandes", route_class=AdminRoute)
PAGE_SIZE = 50
STATUSES = {"open": "ouvertes", "accepted": "acceptées", "expired": "expirées"}

# Newest first; a lapsed open request is expired (the sweep may not have passed yet).
_LIST = text(
    """
    SELECT r.id, r.created_at, r.expires_at, r.accepted_at,
           CASE WHEN r.status = 'open' AND r.expires_at <= now() THEN 'expired'
                ELSE r.status END AS shown_status,
           jsonb_array_length(COALESCE(r.criteria -> 'professionals', '[]'::jsonb)) AS asked,
           p.family_name, p.given_name
    FROM en_sus_requests r
    LEFT JOIN professionals p ON p.id = r.accepted_by_professional_id
    WHERE r.territory_id = :territory_id
      AND CASE :status
            WHEN 'open' THEN r.status = 'open' AND r.expires_at > now()
            WHEN 'expired' THEN r.status = 'expired'
                 OR (r.status = 'open' AND r.expires_at <= now())
            ELSE r.status = :status END
      AND (CAST(:before_at AS timestamptz) IS NULL
           OR (r.created_at, r.id) < (CAST(:before_at AS timestamptz), CAST(:before_id AS uuid)))
    ORDER BY r.created_at DESC, r.id DESC
    LIMIT :limit
    """
)


@router.get("")
async def list_page(
    request: Request,
    session: SessionDep,
    visit: PageVisit,
    territoire: str | None = None,
    statut: str = "open",
    cursor: str | None = None,
) -> Response:
    territory, territories = await territory_context(session, territoire)
    statut = statut if statut in STATUSES else "open"
    before_at, before_id = decode_cursor(cursor) if cursor else (None, None)
    rows = []
    if territory is not None:
        params = {
            "territory_id": territory.id,
            "status": statut,
            "before_at": before_at,
            "before_id": before_id,
            "limit": PAGE_SIZE + 1,
        }
        rows = list(await session.execute(_LIST, params))
    next_cursor = (
        encode_cursor(rows[PAGE_SIZE - 1].created_at, rows[PAGE_SIZE - 1].id)
        if len(rows) > PAGE_SIZE
        else None
    )
    return page(
        request,
        "en_sus.html",
        visit,
        section="en_sus",
        territory=territory,
        territories=territories,
        items=rows[:PAGE_SIZE],
        statut=statut,
        statuses=STATUSES,
        next_url=next_cursor
        and url("/admin/demandes", territoire=territoire, statut=statut, cursor=next_cursor),
    )


@router.get("/{request_id}")
async def detail_page(
    request: Request,
    session: SessionDep,
    visit: PageVisit,
    cipher: CipherDep,
    request_id: uuid.UUID,
    territoire: str | None = None,
) -> Response:
    read = await en_sus.read_request(session, visit.actor, cipher, request_id)
    territory, territories = await territory_context(session, str(read.territory_id))
    return page(
        request,
        "en_sus_detail.html",
        visit,
        section="en_sus",
        territory=territory,
        territories=territories,
        item=read,
    )
