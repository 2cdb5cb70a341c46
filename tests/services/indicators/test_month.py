"""Every figure of a known month (tests/services/indicators/month.py), exactly."""

from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.services.indicators.month import Month, seed_month

OCTOBER = {"from": "2026-10-01", "to": "2026-10-31"}
WEEKS = ["2026-W40", "2026-W41", "2026-W42", "2026-W43", "2026-W44"]


async def _indicators(
    client: httpx.AsyncClient, headers: dict[str, str], month: Month, **params: str
) -> dict[str, Any]:
    response = await client.get(
        "/v1/indicators",
        params={**OCTOBER, "territory": str(month.world.territory_id), **params},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_the_month_totals_are_exact(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: dict[str, str]
) -> None:
    month = await seed_month(session)
    data = await _indicators(client, admin_headers, month)
    assert data["period"] == {"from": "2026-10-01", "to": "2026-10-31", "timezone": "Europe/Paris"}
    assert data["weeks"] == WEEKS
    assert data["totals"] == {
        "slots_offered": 38,
        "slot_hours": 17.65,
        "searches": 8,
        "searches_without_candidate": 3,
        "holds": 34,
        "bookings": 32,
        "cancellations": 2,
        "fulfilled": 12,
        "noshow": 1,
        "bookings_within_48h": 31,
        "share_within_48h": 0.9688,
        "median_distance_km": 3.5,
        "median_delay_hours": 3.0,
        "en_sus_requests": 4,
        "en_sus_accepted": 1,
        "en_sus_expired": 1,
    }


async def test_slots_by_week_professional_modality_and_label_in_the_zone(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: dict[str, str]
) -> None:
    month = await seed_month(session)
    data = await _indicators(client, admin_headers, month)
    name = {str(month.a): "A", str(month.b): "B"}
    rows = {
        (r["week"], name[r["professional_id"]], r["modality"], r["label"]): (r["slots"], r["hours"])
        for r in data["slots"]
    }
    assert rows == {
        ("2026-W40", "A", "AMB", "SNP"): (2, 1.25),
        ("2026-W41", "A", "AMB", "SNP"): (21, 5.25),
        ("2026-W42", "A", "AMB", None): (1, 0.5),
        ("2026-W42", "B", "AMB", "SNP"): (3, 1.9833),
        ("2026-W42", "B", "HH", "PRO"): (1, 1.0),
        ("2026-W43", "A", "AMB", "CPTS"): (6, 3.0),
        ("2026-W43", "A", "VR", "SNP"): (1, 2.0),
        ("2026-W43", "B", "AMB", "SNP"): (2, 0.6667),
        ("2026-W44", "B", "HH", "PUBLIC"): (1, 2.0),
        ("2026-W44", "B", "HH", "SNP"): (1, 2.0),
    }


async def test_forfait_from_two_hours_included_and_majoration_capped_per_professional(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: dict[str, str]
) -> None:
    month = await seed_month(session)
    data = await _indicators(client, admin_headers, month)
    by_id = {p["id"]: p for p in data["professionals"]}
    # D is inactive and did nothing: not listed; C works there: listed with empty weeks.
    assert set(by_id) == {str(month.a), str(month.b), str(month.c)}

    def weeks(professional: Any) -> list[tuple[float, bool, int, int]]:
        return [
            (
                w["snp_hours"],
                w["forfait_eligible"],
                w["majoration_candidates"],
                w["majoration_eligible"],
            )
            for w in by_id[str(professional)]["weeks"]
        ]

    assert [w["week"] for w in by_id[str(month.a)]["weeks"]] == WEEKS
    assert weeks(month.a) == [
        (1.25, False, 1, 1),  # booked on 30 Sep, seen on 1 Oct: a consultation of the period
        (5.25, True, 21, 20),  # the cap of 20
        (0.0, False, 0, 0),
        (2.0, True, 2, 2),  # exactly 2 h (across the change of the clocks); 48 h exactly
        (0.0, False, 0, 0),
    ]
    assert weeks(month.b) == [
        (0.0, False, 0, 0),
        (0.0, False, 0, 0),
        (1.9833, False, 3, 2),  # 1 h 59: no forfait; B's own cap of 2
        (0.6667, False, 0, 0),
        (2.0, True, 0, 0),  # Monday 00:30 in Paris; 1 Nov is after the period
    ]
    assert weeks(month.c) == [(0.0, False, 0, 0)] * 5
    assert by_id[str(month.a)]["weekly_snp_cap"] == 20
    assert by_id[str(month.b)]["weekly_snp_cap"] == 2


async def test_purging_the_patient_minimum_changes_no_figure(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: dict[str, str]
) -> None:
    month = await seed_month(session)
    await session.execute(
        text("UPDATE bookings SET patient = :p WHERE id = ANY(CAST(:ids AS uuid[]))"),
        {"p": b"sealed", "ids": month.booking_ids},
    )
    before = await _indicators(client, admin_headers, month)
    await session.execute(
        text("UPDATE bookings SET patient = NULL WHERE id = ANY(CAST(:ids AS uuid[]))"),
        {"ids": month.booking_ids},
    )
    assert await _indicators(client, admin_headers, month) == before


async def test_csv_gives_every_figure_one_a_line(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: dict[str, str]
) -> None:
    month = await seed_month(session)
    data = await _indicators(client, admin_headers, month)
    response = await client.get(
        "/v1/indicators",
        params={**OCTOBER, "territory": str(month.world.territory_id), "format": "csv"},
        headers=admin_headers,
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    lines = response.text.splitlines()
    assert lines[0] == "section,week,professional_id,rpps,modality,label,figure,value"
    assert "totals,,,,,,bookings,32" in lines
    assert "totals,,,,,,median_distance_km,3.5" in lines
    assert f"slots,2026-W43,{month.a},,VR,SNP,hours,2.0" in lines
    assert f"slots,2026-W42,{month.a},,AMB,,slots,1" in lines
    rpps_a = next(p["rpps"] for p in data["professionals"] if p["id"] == str(month.a))
    assert f"professional_weeks,2026-W41,{month.a},{rpps_a},,,majoration_eligible,20" in lines
    assert f"professional_weeks,2026-W43,{month.a},{rpps_a},,,forfait_eligible,true" in lines
    expected = 4 + len(data["totals"]) + 2 * len(data["slots"]) + 5 * 5 * 3
    assert len(lines) == 1 + expected


async def test_the_indicators_read_is_audited(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: dict[str, str]
) -> None:
    month = await seed_month(session)
    await _indicators(client, admin_headers, month)
    detail = await session.scalar(
        text(
            "SELECT detail FROM audit_events WHERE action = 'indicators.read' AND territory_id = :t"
        ),
        {"t": month.world.territory_id},
    )
    assert detail == {"from": "2026-10-01", "to": "2026-10-31"}
