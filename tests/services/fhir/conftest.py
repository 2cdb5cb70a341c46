"""A committed database of its own for the FHIR tests that run the real lifespan."""

from collections.abc import AsyncIterator

import pytest

from tests.conftest import migrated_database


@pytest.fixture(scope="module")
async def appointments_db(server_url: str) -> AsyncIterator[str]:
    async with migrated_database(server_url, "snp_fhir_appt") as url:
        yield url
