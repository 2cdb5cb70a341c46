"""The Slot file's timestamps are written by SQL (`sql.local_instant`): the same text as the SAS
interface's `resources.instant`, in every zone the service knows, across DST changes."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.services.fhir.resources import instant
from app.services.smart.sql import local_instant

ZONES = (
    "Europe/Paris",
    "America/Guadeloupe",
    "America/Cayenne",
    "Indian/Reunion",
    "Indian/Mayotte",
    "Pacific/Marquesas",  # -09:30, a half-hour offset
    "UTC",
)
# Around the 2026 DST changes in Paris (29 March, 25 October at 01:00 UTC) and ordinary times.
INSTANTS = [
    datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 0, 0, tzinfo=UTC),
    datetime(2026, 10, 25, 0, 30, 0, tzinfo=UTC),
    datetime(2026, 10, 25, 1, 0, 0, tzinfo=UTC),
    datetime(2026, 12, 2, 8, 20, 0, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 40, 0, tzinfo=UTC),
]


@pytest.mark.parametrize("zone", ZONES)
async def test_sql_timestamps_match_the_sas_interface(
    connection: AsyncConnection, zone: str
) -> None:
    statement = text(f"SELECT {local_instant('CAST(:at AS timestamptz)', 'CAST(:zone AS text)')}")  # noqa: S608
    for at in INSTANTS + [INSTANTS[-2] + timedelta(minutes=m) for m in range(0, 600, 47)]:
        written = (await connection.execute(statement, {"at": at, "zone": zone})).scalar_one()
        assert written == instant(at, zone), (at, zone)
