"""A small CPTS with slots, written with SQL through a session, for hold/booking/dispatch tests.

Works on the rolled-back test session, or on a committing session for the real-uvicorn tests.
"""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.schemas.api_client import ApiClientCreate
from app.services.directory import api_clients
from tests.conftest import new_finess, new_rpps

NANTES = (47.2184, -1.5536)


@dataclass
class World:
    territory_id: uuid.UUID
    site_id: uuid.UUID
    professional_ids: list[uuid.UUID]
    source_id: uuid.UUID
    source_key: str
    regulator_id: uuid.UUID
    regulator_key: str
    lat: float
    lon: float
    slot_ids: list[uuid.UUID] = field(default_factory=list)


async def _id(session: AsyncSession, sql: str, **params: object) -> uuid.UUID:
    value: uuid.UUID = (await session.execute(text(sql), params)).scalar_one()
    return value


async def new_client(
    session: AsyncSession,
    role: str,
    *,
    territory_ids: list[uuid.UUID] | None = None,
    professional_ids: list[uuid.UUID] | None = None,
) -> tuple[uuid.UUID, str]:
    """A client; a practice software's territories default to those of its professionals."""
    if territory_ids is None and professional_ids:
        territory_ids = list(
            (
                await session.scalars(
                    text(
                        "SELECT DISTINCT s.territory_id FROM site_professionals sp "
                        "JOIN sites s ON s.id = sp.site_id "
                        "WHERE sp.professional_id = ANY(CAST(:p AS uuid[]))"
                    ),
                    {"p": professional_ids},
                )
            ).all()
        )
    created = await api_clients.create_client(
        session,
        None,
        ApiClientCreate(
            name=f"{role} {uuid.uuid4().hex[:6]}",
            role=role,
            territory_ids=territory_ids or [],
            professional_ids=professional_ids or [],
        ),
    )
    return created.id, created.api_key


async def add_professional(
    session: AsyncSession, site_id: uuid.UUID, *, accepts_en_sus: bool = False
) -> uuid.UUID:
    professional_id = await _id(
        session,
        "INSERT INTO professionals (rpps, family_name, given_name, profession, specialty, "
        "sas_participant, accepts_en_sus) VALUES (:rpps, 'Martin', 'Camille', '10', 'SM54', "
        "true, :en_sus) RETURNING id",
        rpps=new_rpps(),
        en_sus=accepts_en_sus,
    )
    await session.execute(
        text("INSERT INTO site_professionals (site_id, professional_id) VALUES (:s, :p)"),
        {"s": site_id, "p": professional_id},
    )
    return professional_id


async def add_site(
    session: AsyncSession, territory_id: uuid.UUID, lat: float, lon: float
) -> uuid.UUID:
    return await _id(
        session,
        "INSERT INTO sites (territory_id, name, address, postcode, insee_code, lat, lon) "
        "VALUES (:t, 'MSP test', '1 rue de la Paix', '44000', '44109', :lat, :lon) RETURNING id",
        t=territory_id,
        lat=lat,
        lon=lon,
    )


async def make_world(
    session: AsyncSession,
    *,
    professionals: int = 1,
    accepts_en_sus: bool = False,
    lat: float = NANTES[0],
    lon: float = NANTES[1],
) -> World:
    """A territory, one site, professionals, their practice software and a regulator."""
    territory_id = await _id(
        session,
        "INSERT INTO territories (name, finess, departement) VALUES ('CPTS test', :f, '44') "
        "RETURNING id",
        f=new_finess(),
    )
    site_id = await add_site(session, territory_id, lat, lon)
    professional_ids = [
        await add_professional(session, site_id, accepts_en_sus=accepts_en_sus)
        for _ in range(professionals)
    ]
    source_id, source_key = await new_client(
        session, "practice_software", professional_ids=professional_ids
    )
    regulator_id, regulator_key = await new_client(
        session, "regulator", territory_ids=[territory_id]
    )
    return World(
        territory_id,
        site_id,
        professional_ids,
        source_id,
        source_key,
        regulator_id,
        regulator_key,
        lat,
        lon,
    )


async def add_slots(
    session: AsyncSession,
    world: World,
    count: int,
    *,
    start: datetime | None = None,
    minutes: int = 20,
    modality: str = "AMB",
    status: str = "free",
) -> list[uuid.UUID]:
    """`count` consecutive slots per professional, from `start` (default: in one hour)."""
    first = start or datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    ids: list[uuid.UUID] = []
    for professional_id in world.professional_ids:
        for i in range(count):
            begin = first + timedelta(minutes=minutes * i)
            ids.append(
                await _id(
                    session,
                    "INSERT INTO slots (source_client_id, external_id, professional_id, site_id, "
                    "start_at, end_at, modality, status, hold_expires_at) "
                    "VALUES (:src, :ext, :pro, :site, :start, :end, :modality, :status, "
                    "CASE WHEN :status = 'held' THEN now() + interval '5 minutes' END) "
                    "RETURNING id",
                    src=world.source_id,
                    ext=f"ext-{uuid.uuid4().hex}",
                    pro=professional_id,
                    site=world.site_id,
                    start=begin,
                    end=begin + timedelta(minutes=minutes),
                    modality=modality,
                    status=status,
                )
            )
    world.slot_ids.extend(ids)
    return ids


def headers(key: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}


def regulator_of(*worlds: World, client_id: uuid.UUID | None = None) -> Principal:
    """The principal of the first world's regulator (or of `client_id`), in these territories."""
    return Principal(
        client_id=client_id or worlds[0].regulator_id,
        name="regulator",
        role="regulator",
        territory_ids=frozenset(w.territory_id for w in worlds),
    )
