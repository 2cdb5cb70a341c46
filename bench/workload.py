"""What the load sends: patients near generated sites all over the country, and their keys."""

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from bench.generate import BenchKeys

PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class Patient:
    departement: str
    lat: float
    lon: float
    territory_ids: list[uuid.UUID]  # the département's territories (the reference query's scope)


async def sample_patients(url: str, count: int, seed: int = 7) -> list[Patient]:
    """`count` patients, each within ~3 km of a random site (so weighted by population)."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SELECT setseed($1)", (seed % 1000) / 1000)
        rows = await conn.fetch(
            """
            SELECT t.departement, s.lat, s.lon,
                   ARRAY(SELECT id FROM territories WHERE departement = t.departement) AS ids
            FROM (SELECT * FROM sites ORDER BY random() LIMIT $1) s
            JOIN territories t ON t.id = s.territory_id
            """,
            count,
        )
    finally:
        await conn.close()
    rng = random.Random(seed)
    return [
        Patient(
            r["departement"],
            round(r["lat"] + rng.uniform(-0.027, 0.027), 5),
            round(r["lon"] + rng.uniform(-0.04, 0.04), 5),
            list(r["ids"]),
        )
        for r in rows
    ]


def search_requests(patients: list[Patient], keys: BenchKeys) -> list[tuple[str, dict[str, Any]]]:
    """A search per patient, by the regulator of the patient's département."""
    return [
        (keys.regulators[p.departement], {"location": {"lat": p.lat, "lon": p.lon}})
        for p in patients
    ]


def empty_window_requests(
    patients: list[Patient], keys: BenchKeys
) -> list[tuple[str, dict[str, Any]]]:
    """Searches in metropolitan France between 01:00 and 04:00 tomorrow, when no slot exists."""
    tomorrow = datetime.now(PARIS).date() + timedelta(days=1)
    window = {
        "start": datetime.combine(tomorrow, time(1, 0), PARIS).isoformat(),
        "end": datetime.combine(tomorrow, time(4, 0), PARIS).isoformat(),
    }
    return [
        (key, {**body, "window": window})
        for (key, body), p in zip(search_requests(patients, keys), patients, strict=True)
        if len(p.departement) <= 2
    ]


def dispatch_requests(patients: list[Patient], keys: BenchKeys) -> list[tuple[str, dict[str, Any]]]:
    """One-call dispatches, by the regulator of the patient's département."""
    return search_requests(patients, keys)


async def site_keys(url: str, keys: BenchKeys) -> list[tuple[str, str]]:
    """(site id, key of the regulator of its département): who releases a hold on that site."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT s.id, t.departement FROM sites s JOIN territories t ON t.id = s.territory_id"
        )
    finally:
        await conn.close()
    return [(str(r["id"]), keys.regulators[r["departement"]]) for r in rows]
