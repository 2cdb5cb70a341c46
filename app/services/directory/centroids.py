"""Commune centroids: loaded by an operator from a CSV, they turn an INSEE code into a location."""

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import InvalidInput
from app.schemas.identifiers import InseeCode, Latitude, Longitude


async def set_centroids(session: AsyncSession, rows: Sequence[tuple[str, float, float]]) -> int:
    """Set the centroid of each listed commune; returns how many communes were updated."""
    if not rows:
        return 0
    result = await session.execute(
        text(
            """
            UPDATE communes c SET lat = t.lat, lon = t.lon
            FROM unnest(CAST(:codes AS text[]), CAST(:lats AS float8[]), CAST(:lons AS float8[]))
                 AS t(code, lat, lon)
            WHERE c.insee_code = t.code
            """
        ),
        {
            "codes": [r[0] for r in rows],
            "lats": [r[1] for r in rows],
            "lons": [r[2] for r in rows],
        },
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def read_centroids_csv(path: Path) -> list[tuple[str, float, float]]:
    """Read `insee_code,lat,lon` rows (header required); a bad row names its line."""
    with path.open(encoding="utf-8", newline="") as f:
        return parse_centroids_csv(f, path.name)


def parse_centroids_csv(lines: Iterable[str], source: str) -> list[tuple[str, float, float]]:
    """Parse `insee_code,lat,lon` rows (header required); a bad row names its line (422)."""
    from pydantic import TypeAdapter, ValidationError

    code_t, lat_t, lon_t = TypeAdapter(InseeCode), TypeAdapter(Latitude), TypeAdapter(Longitude)
    out: list[tuple[str, float, float]] = []
    reader: Iterable[dict[str, str]] = csv.DictReader(lines)
    for line, row in enumerate(reader, start=2):
        try:
            out.append(
                (
                    code_t.validate_python(row["insee_code"]),
                    lat_t.validate_python(float(row["lat"])),
                    lon_t.validate_python(float(row["lon"])),
                )
            )
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise InvalidInput(f"{source} line {line}: {exc}", location=f"line {line}") from None
    return out
