"""Where the patient is: the coordinates given, or the centroid of their commune."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import InvalidInput
from app.schemas.search import InseeLocation, LatLon

_CENTROID_SQL = text("SELECT lat, lon FROM communes WHERE insee_code = :code")


async def patient_location(
    session: AsyncSession, location: LatLon | InseeLocation
) -> tuple[float, float]:
    """The search point: the coordinates given, or the centroid of the commune (422 if none)."""
    if isinstance(location, LatLon):
        return location.lat, location.lon
    row = (await session.execute(_CENTROID_SQL, {"code": location.insee_code})).one_or_none()
    return centroid_or_refuse(location, None if row is None else (row.lat, row.lon))


def centroid_or_refuse(
    location: InseeLocation, point: tuple[float | None, float | None] | None
) -> tuple[float, float]:
    """The commune's centroid `point` (None: no such commune; (None, None): none loaded)."""
    where = "body.location.insee_code"
    if point is None:
        raise InvalidInput(f"no commune has the INSEE code {location.insee_code}", location=where)
    lat, lon = point
    if lat is None or lon is None:
        raise InvalidInput(
            f"no centroid is loaded for commune {location.insee_code}; "
            "an admin loads them with PUT /v1/communes/centroids",
            location=where,
        )
    return float(lat), float(lon)
