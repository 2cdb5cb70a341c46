"""Sites (lieux d'exercice) and the professionals who work there (admin)."""

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.errors import InvalidInput, NotFound
from app.core.pagination import keyset, page
from app.models import Commune, Professional, Site, SiteProfessional, Territory
from app.schemas.site import SiteCreate, SiteOut, SiteUpdate
from app.services.audit import record as audit


async def check_commune(session: AsyncSession, insee_code: str, postcode: str) -> None:
    """The INSEE code names a current commune, and the postcode is one of that commune's."""
    commune = await session.get(Commune, insee_code)
    if commune is None:
        raise InvalidInput(
            f"no current commune has the INSEE code {insee_code}", location="body.insee_code"
        )
    if postcode not in commune.postcodes:
        raise InvalidInput(
            f"postcode {postcode} is not one of {commune.name}'s ({', '.join(commune.postcodes)})",
            location="body.postcode",
        )


async def _check_professionals(session: AsyncSession, ids: Sequence[uuid.UUID]) -> None:
    if not ids:
        return
    found = set(
        (await session.scalars(select(Professional.id).where(Professional.id.in_(ids)))).all()
    )
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise InvalidInput(
            f"unknown professional(s): {', '.join(missing)}", location="body.professional_ids"
        )


async def _set_professionals(
    session: AsyncSession, site_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> None:
    await session.execute(delete(SiteProfessional).where(SiteProfessional.site_id == site_id))
    unique_ids = list(dict.fromkeys(ids))
    if unique_ids:
        await session.execute(
            insert(SiteProfessional),
            [{"site_id": site_id, "professional_id": pid} for pid in unique_ids],
        )


async def professional_ids_by_site(
    session: AsyncSession, site_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """One query for the professionals of many sites (no N+1 on lists)."""
    out: dict[uuid.UUID, list[uuid.UUID]] = {sid: [] for sid in site_ids}
    if site_ids:
        rows = await session.execute(
            select(SiteProfessional.site_id, SiteProfessional.professional_id)
            .where(SiteProfessional.site_id.in_(site_ids))
            .order_by(SiteProfessional.professional_id)
        )
        for site_id, professional_id in rows:
            out[site_id].append(professional_id)
    return out


def site_out(site: Site, professional_ids: list[uuid.UUID]) -> SiteOut:
    return SiteOut.model_validate(
        {
            **{c: getattr(site, c) for c in SiteOut.model_fields if c != "professional_ids"},
            "professional_ids": professional_ids,
        }
    )


async def create_site(session: AsyncSession, actor: Principal | None, data: SiteCreate) -> SiteOut:
    """Create a site in a territory; its commune and postcode must agree."""
    territory = await session.get(Territory, data.territory_id)
    if territory is None:
        raise InvalidInput(f"no territory {data.territory_id}", location="body.territory_id")
    await check_commune(session, data.insee_code, data.postcode)
    await _check_professionals(session, data.professional_ids)
    values = data.model_dump(exclude={"professional_ids", "timezone"})
    site = Site(**values, timezone=data.timezone or territory.timezone)
    session.add(site)
    await session.flush()
    await session.refresh(site)
    await _set_professionals(session, site.id, data.professional_ids)
    await audit.record(session, actor, "site.create", "site", site.id, territory_id=territory.id)
    return site_out(site, sorted(set(data.professional_ids)))


async def get_site(session: AsyncSession, site_id: uuid.UUID) -> Site:
    site = await session.get(Site, site_id)
    if site is None:
        raise NotFound(f"no site {site_id}")
    return site


async def get_site_out(session: AsyncSession, site_id: uuid.UUID) -> SiteOut:
    site = await get_site(session, site_id)
    return site_out(site, (await professional_ids_by_site(session, [site.id]))[site.id])


async def list_sites(
    session: AsyncSession,
    cursor: str | None,
    limit: int,
    territory_id: uuid.UUID | None = None,
    active: bool | None = None,
) -> tuple[list[SiteOut], str | None]:
    query = select(Site)
    if territory_id is not None:
        query = query.where(Site.territory_id == territory_id)
    if active is not None:
        query = query.where(Site.active.is_(active))
    rows = (await session.scalars(keyset(query, Site.created_at, Site.id, cursor, limit))).all()
    sites, next_cursor = page(rows, limit)
    pros = await professional_ids_by_site(session, [s.id for s in sites])
    return [site_out(s, pros[s.id]) for s in sites], next_cursor


async def update_site(
    session: AsyncSession, actor: Principal | None, site_id: uuid.UUID, data: SiteUpdate
) -> SiteOut:
    """Update a site; a move needs nothing more (slots are located by their site)."""
    site = await get_site(session, site_id)
    changes = data.changes()
    professional_ids = changes.pop("professional_ids", None)
    # Every check before the first change, so a refusal leaves the site as it was.
    if "insee_code" in changes or "postcode" in changes:
        await check_commune(
            session,
            str(changes.get("insee_code", site.insee_code)),
            str(changes.get("postcode", site.postcode)),
        )
    if isinstance(professional_ids, list):
        await _check_professionals(session, professional_ids)
    for name, value in changes.items():
        setattr(site, name, value)
    if isinstance(professional_ids, list):
        await _set_professionals(session, site.id, professional_ids)
    await session.flush()
    await session.refresh(site)
    await audit.record(
        session,
        actor,
        "site.update",
        "site",
        site.id,
        territory_id=site.territory_id,
        detail={
            "fields": sorted(
                [*changes, *(["professional_ids"] if professional_ids is not None else [])]
            )
        },
    )
    return await get_site_out(session, site.id)


async def deactivate_site(
    session: AsyncSession, actor: Principal | None, site_id: uuid.UUID
) -> None:
    """Deactivate rather than delete: slots and bookings keep pointing to the site."""
    site = await get_site(session, site_id)
    site.active = False
    await session.flush()
    await audit.record(
        session, actor, "site.deactivate", "site", site.id, territory_id=site.territory_id
    )
