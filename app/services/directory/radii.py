"""Default SAS search radius per département (shipped table, see app/data/README.md)."""

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

RADII_CSV = Path(__file__).resolve().parents[2] / "data" / "sas_search_radii_2025.csv"


@dataclass(frozen=True)
class DepartementRadius:
    code: str
    label: str
    radius_km: float | None
    enlargement_km: float | None
    barycentre: tuple[float, float] | None


def _departement_code(raw: str) -> str:
    """The table writes `1` for 01 and `20A`/`20B` for Corsica; the service uses 01, 2A, 2B."""
    if raw.isdigit():
        return raw.zfill(2)
    return {"20A": "2A", "20B": "2B"}.get(raw, raw)


@cache
def departement_radii() -> dict[str, DepartementRadius]:
    out: dict[str, DepartementRadius] = {}
    with RADII_CSV.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            radius = float(row["cityDefaultRadius"])
            enlargement = float(row["enlargementValue"])
            lat, lon = float(row["barycentreCityLat"]), float(row["barycentreCityLon"])
            code = _departement_code(row["code"])
            out[code] = DepartementRadius(
                code=code,
                label=row["label"],
                # A zero means the national platform sets no city radius there.
                radius_km=radius or None,
                enlargement_km=enlargement or None,
                barycentre=(lat, lon) if lat or lon else None,
            )
    return out


def default_radius(departement: str) -> DepartementRadius | None:
    return departement_radii().get(departement)
