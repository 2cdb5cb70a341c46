"""Rows inserted with plain SQL, so that only the database's own rules stand in the way."""

import uuid
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.conftest import new_finess, new_rpps

CHECK_VIOLATION = "23514"
UNIQUE_VIOLATION = "23505"
EXCLUSION_VIOLATION = "23P01"


async def insert(connection: AsyncConnection, sql: str, **params: Any) -> Any:
    """Run one INSERT … RETURNING id and return the id."""
    return (await connection.execute(text(sql), params)).scalar_one()


async def refusal(connection: AsyncConnection, sql: str, **params: Any) -> tuple[str, str]:
    """Run `sql` in a savepoint that must fail; return (sqlstate, constraint name)."""
    with pytest.raises(DBAPIError) as caught:
        async with connection.begin_nested():
            await connection.execute(text(sql), params)
    orig = caught.value.orig
    sqlstate = str(getattr(orig, "sqlstate", None) or "")
    constraint = getattr(getattr(orig, "__cause__", None), "constraint_name", None)
    return sqlstate, str(constraint or "")


async def new_territory(connection: AsyncConnection) -> uuid.UUID:
    result: uuid.UUID = await insert(
        connection,
        "INSERT INTO territories (name, finess, departement) VALUES ('T', :f, '44') RETURNING id",
        f=new_finess(),
    )
    return result


async def new_client(connection: AsyncConnection, role: str = "practice_software") -> uuid.UUID:
    tag = uuid.uuid4().hex
    result: uuid.UUID = await insert(
        connection,
        "INSERT INTO api_clients (name, role, key_prefix, key_hash) "
        "VALUES ('client', :role, :p, :h) RETURNING id",
        role=role,
        p=f"snp_{tag[:12]}",
        h=tag,
    )
    return result


async def new_professional(connection: AsyncConnection) -> uuid.UUID:
    result: uuid.UUID = await insert(
        connection,
        "INSERT INTO professionals (rpps, family_name, given_name, profession) "
        "VALUES (:rpps, 'Martin', 'Camille', '10') RETURNING id",
        rpps=new_rpps(),
    )
    return result


SITE_SQL = (
    "INSERT INTO sites (territory_id, name, address, postcode, insee_code, lat, lon) "
    "VALUES (:territory_id, 'MSP', '1 rue de la Paix', '44000', '44109', :lat, :lon) RETURNING id"
)

SLOT_SQL = (
    "INSERT INTO slots (source_client_id, external_id, professional_id, site_id, start_at, end_at,"
    " modality, status, hold_expires_at) "
    "VALUES (:client_id, :external_id, :professional_id, :site_id, "
    ":start, :end, 'AMB', :status, "
    "CASE WHEN :status = 'held' THEN now() + interval '5 minutes' END) RETURNING id"
)


class SlotMaker:
    """Insert slots (by default free, of one professional at one site) with SQL."""

    def __init__(
        self,
        connection: AsyncConnection,
        client_id: uuid.UUID,
        professional_id: uuid.UUID,
        site_id: uuid.UUID,
    ) -> None:
        self.connection = connection
        self.defaults: dict[str, Any] = {
            "client_id": client_id,
            "professional_id": professional_id,
            "site_id": site_id,
            "status": "free",
        }

    def params(self, start: str, end: str, **overrides: Any) -> dict[str, Any]:
        return {
            **self.defaults,
            "external_id": uuid.uuid4().hex,
            "start": datetime.fromisoformat(start),
            "end": datetime.fromisoformat(end),
            **overrides,
        }

    async def add(self, start: str, end: str, **overrides: Any) -> uuid.UUID:
        result: uuid.UUID = await insert(
            self.connection, SLOT_SQL, **self.params(start, end, **overrides)
        )
        return result

    async def refused(self, start: str, end: str, **overrides: Any) -> tuple[str, str]:
        return await refusal(self.connection, SLOT_SQL, **self.params(start, end, **overrides))
