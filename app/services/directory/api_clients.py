"""API clients: create (the key is shown once), list, show, revoke (admin and CLI).

Rules: a revoked client's key is refused; its free slots are offered to nobody (`slots.rules`
`source_offered`), its held and booked slots stay as they are, and the revoke's audit event and
`show_client` count them, so that the admin can hand them to another client
(`directory.slot_transfer`). Key rotation is in `directory.client_keys`.
"""

import uuid
from collections.abc import Sequence

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.errors import InvalidInput, NotFound
from app.core.pagination import keyset, page
from app.core.security import new_api_key, new_webhook_secret
from app.models import ApiClient, ApiClientProfessional, ApiClientTerritory, Professional, Territory
from app.schemas.api_client import (
    ApiClientCreate,
    ApiClientCreated,
    ApiClientDetail,
    ApiClientOut,
    SlotCounts,
)
from app.services.audit import record as audit
from app.services.directory.client_scope import check_professionals_in_territories
from app.services.slots.rules import free, lapsed_hold
from app.services.webhooks.admin import webhook_health


async def _check_ids(
    session: AsyncSession,
    model: type[Territory] | type[Professional],
    ids: Sequence[uuid.UUID],
    location: str,
) -> None:
    if not ids:
        return
    found = set((await session.scalars(select(model.id).where(model.id.in_(ids)))).all())
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise InvalidInput(f"unknown id(s): {', '.join(missing)}", location=location)


def _check_scope_fits_role(data: ApiClientCreate) -> None:
    if data.role in ("regulator", "sas_platform") and not data.territory_ids:
        raise InvalidInput(
            f"a {data.role} client needs at least one territory", location="body.territory_ids"
        )
    if data.role != "practice_software" and data.professional_ids:
        raise InvalidInput(
            "only a practice_software client writes for professionals",
            location="body.professional_ids",
        )
    if data.role not in ("practice_software", "regulator") and data.webhook_url:
        raise InvalidInput(
            "only practice_software and regulator clients receive webhooks",
            location="body.webhook_url",
        )


async def create_client(
    session: AsyncSession, actor: Principal | None, data: ApiClientCreate
) -> ApiClientCreated:
    """Create a client and return its key, which is never shown again."""
    _check_scope_fits_role(data)
    await _check_ids(session, Territory, data.territory_ids, "body.territory_ids")
    await _check_ids(session, Professional, data.professional_ids, "body.professional_ids")
    await check_professionals_in_territories(session, data.professional_ids, data.territory_ids)
    key, prefix, key_hash = new_api_key()
    secret = new_webhook_secret() if data.webhook_url else None
    client = ApiClient(
        name=data.name,
        role=data.role,
        key_prefix=prefix,
        key_hash=key_hash,
        webhook_url=str(data.webhook_url) if data.webhook_url else None,
        webhook_secret=secret,
    )
    session.add(client)
    await session.flush()
    await session.refresh(client)
    territory_ids = list(dict.fromkeys(data.territory_ids))
    professional_ids = list(dict.fromkeys(data.professional_ids))
    if territory_ids:
        await session.execute(
            insert(ApiClientTerritory),
            [{"client_id": client.id, "territory_id": t} for t in territory_ids],
        )
    if professional_ids:
        await session.execute(
            insert(ApiClientProfessional),
            [{"client_id": client.id, "professional_id": p} for p in professional_ids],
        )
    await audit.record(
        session,
        actor,
        "client.create",
        "api_client",
        client.id,
        detail={
            "role": data.role,
            "territories": len(territory_ids),
            "professionals": len(professional_ids),
        },
        actor_label="cli",
    )
    out = _client_out(client, territory_ids, professional_ids)
    return ApiClientCreated(**out.model_dump(), api_key=key, webhook_secret=secret)


def _client_out(
    client: ApiClient, territory_ids: list[uuid.UUID], professional_ids: list[uuid.UUID]
) -> ApiClientOut:
    return ApiClientOut(
        id=client.id,
        name=client.name,
        role=client.role,
        key_prefix=client.key_prefix,
        territory_ids=territory_ids,
        professional_ids=professional_ids,
        webhook_url=client.webhook_url,
        webhook_disabled_at=client.webhook_disabled_at,
        active=client.active,
        created_at=client.created_at,
    )


async def _scopes(
    session: AsyncSession, ids: list[uuid.UUID]
) -> tuple[dict[uuid.UUID, list[uuid.UUID]], dict[uuid.UUID, list[uuid.UUID]]]:
    """The territories and the professionals of each client of `ids` (two queries)."""
    territories: dict[uuid.UUID, list[uuid.UUID]] = {i: [] for i in ids}
    professionals: dict[uuid.UUID, list[uuid.UUID]] = {i: [] for i in ids}
    if ids:
        for cid, tid in await session.execute(
            select(ApiClientTerritory.client_id, ApiClientTerritory.territory_id).where(
                ApiClientTerritory.client_id.in_(ids)
            )
        ):
            territories[cid].append(tid)
        for cid, pid in await session.execute(
            select(ApiClientProfessional.client_id, ApiClientProfessional.professional_id).where(
                ApiClientProfessional.client_id.in_(ids)
            )
        ):
            professionals[cid].append(pid)
    return territories, professionals


async def list_clients(
    session: AsyncSession, cursor: str | None, limit: int
) -> tuple[list[ApiClientOut], str | None]:
    rows = (
        await session.scalars(
            keyset(select(ApiClient), ApiClient.created_at, ApiClient.id, cursor, limit)
        )
    ).all()
    clients, next_cursor = page(rows, limit)
    territories, professionals = await _scopes(session, [c.id for c in clients])
    return [_client_out(c, territories[c.id], professionals[c.id]) for c in clients], next_cursor


# The source's slots still to come, by what they are now (see `schemas.api_client.SlotCounts`).
_SLOT_COUNTS = text(
    f"""
    SELECT count(*) FILTER (WHERE {free("s")}) AS free,
           count(*) FILTER (WHERE s.status = 'held' AND NOT {lapsed_hold("s")}) AS held,
           count(*) FILTER (WHERE s.status = 'booked') AS booked
    FROM slots s
    WHERE s.source_client_id = :client_id AND s.end_at > now() AND s.status <> 'cancelled'
    """  # noqa: S608 (built from the shared rules' constants)
)


async def slot_counts(session: AsyncSession, client_id: uuid.UUID) -> SlotCounts:
    """How many of the client's slots still to come are free, held and booked."""
    row = (await session.execute(_SLOT_COUNTS, {"client_id": client_id})).one()
    return SlotCounts(free=row.free, held=row.held, booked=row.booked)


async def get_client(session: AsyncSession, client_id: uuid.UUID) -> ApiClient:
    """The client, or 404."""
    client = await session.get(ApiClient, client_id)
    if client is None:
        raise NotFound(f"no API client {client_id}")
    return client


async def describe(session: AsyncSession, client: ApiClient) -> ApiClientOut:
    """The client as the API shows it, with its territories and professionals."""
    territories, professionals = await _scopes(session, [client.id])
    return _client_out(client, territories[client.id], professionals[client.id])


async def show_client(session: AsyncSession, client_id: uuid.UUID) -> ApiClientDetail:
    """One client, its scope, the count of its slots still to come and its webhook's health."""
    client = await get_client(session, client_id)
    out = await describe(session, client)
    return ApiClientDetail(
        **out.model_dump(),
        slots=await slot_counts(session, client_id),
        webhook=await webhook_health(session, client),
    )


async def revoke_client(session: AsyncSession, actor: Principal, client_id: uuid.UUID) -> None:
    """Revoke a client's key; it is refused from then on (other processes: within the cache TTL).

    Its free slots stop being offered at once; the audit event counts what it leaves behind.
    """
    client = await get_client(session, client_id)
    client.active = False
    client.revoked_at = client.revoked_at or func.now()
    await session.flush()
    counts = await slot_counts(session, client.id)
    await audit.record(
        session,
        actor,
        "client.revoke",
        "api_client",
        client.id,
        detail={"slots": counts.model_dump()},
    )
