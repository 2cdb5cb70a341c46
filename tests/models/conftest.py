import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.models.rows import (
    SITE_SQL,
    SlotMaker,
    insert,
    new_client,
    new_professional,
    new_territory,
)


@pytest.fixture
async def territory_id(connection: AsyncConnection) -> uuid.UUID:
    return await new_territory(connection)


@pytest.fixture
async def client_id(connection: AsyncConnection) -> uuid.UUID:
    return await new_client(connection)


@pytest.fixture
async def professional_id(connection: AsyncConnection) -> uuid.UUID:
    return await new_professional(connection)


@pytest.fixture
async def site_id(connection: AsyncConnection, territory_id: uuid.UUID) -> uuid.UUID:
    result: uuid.UUID = await insert(
        connection, SITE_SQL, territory_id=territory_id, lat=47.2184, lon=-1.5536
    )
    return result


@pytest.fixture
def slots(
    connection: AsyncConnection,
    client_id: uuid.UUID,
    professional_id: uuid.UUID,
    site_id: uuid.UUID,
) -> SlotMaker:
    return SlotMaker(connection, client_id, professional_id, site_id)
