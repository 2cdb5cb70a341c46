"""Professionals: the RPPS format and its uniqueness, in the database."""

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.conftest import new_rpps
from tests.models.rows import CHECK_VIOLATION, UNIQUE_VIOLATION, insert, refusal

PROFESSIONAL_SQL = (
    "INSERT INTO professionals (rpps, family_name, given_name, profession) "
    "VALUES (:rpps, 'Martin', 'Camille', '10') RETURNING id"
)


@pytest.mark.parametrize("rpps", ["1234567890", "1234567890A", "12345 67890", "", "abcdefghijk"])
async def test_rpps_not_eleven_digits_is_refused(connection: AsyncConnection, rpps: str) -> None:
    assert await refusal(connection, PROFESSIONAL_SQL, rpps=rpps) == (
        CHECK_VIOLATION,
        "ck_professionals_rpps_format",
    )


async def test_same_rpps_twice_is_refused(connection: AsyncConnection) -> None:
    rpps = new_rpps()
    await insert(connection, PROFESSIONAL_SQL, rpps=rpps)
    assert await refusal(connection, PROFESSIONAL_SQL, rpps=rpps) == (
        UNIQUE_VIOLATION,
        "uq_professionals_rpps",
    )


async def test_negative_weekly_cap_is_refused(connection: AsyncConnection) -> None:
    professional = await insert(connection, PROFESSIONAL_SQL, rpps=new_rpps())
    refused = await refusal(
        connection, "UPDATE professionals SET weekly_snp_cap = -1 WHERE id = :id", id=professional
    )
    assert refused == (CHECK_VIOLATION, "ck_professionals_weekly_snp_cap")
