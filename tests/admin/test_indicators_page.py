"""The Indicateurs page: the figures of `GET /v1/indicators` as tables and weekly charts, a CSV
download, and French refusals of a bad period."""

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.dispatch_factories import add_slots, make_world


async def test_the_page_shows_the_periods_figures_and_its_weekly_charts(
    signed_in: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
    slots = await add_slots(session, world, 9, start=start, minutes=20)  # 3 h of slots
    await session.execute(
        text("UPDATE slots SET labels = ARRAY['SNP'] WHERE id = ANY(:ids)"), {"ids": slots}
    )
    day = start.date()
    page = await signed_in.get(
        "/admin/indicateurs",
        params={
            "territoire": str(world.territory_id),
            "du": str(day),
            "au": str(day + timedelta(days=3)),
        },
    )
    assert page.status_code == 200, page.text[:2000]
    assert "Indicateurs SNP" in page.text
    assert "<svg" in page.text
    assert ">9 (3 h)<" in page.text  # slots offered, and their hours
    assert "1 / 1" in page.text or "1 / 2" in page.text  # the professional's forfait week(s)
    audited = await session.scalar(
        text(
            "SELECT count(*) FROM audit_events WHERE action = 'indicators.read' "
            "AND resource_id = :t"
        ),
        {"t": str(world.territory_id)},
    )
    assert audited == 1


async def test_the_csv_download_has_the_same_figures(
    signed_in: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    day = datetime.now(UTC).date()
    answer = await signed_in.get(
        "/admin/indicateurs.csv",
        params={"territoire": str(world.territory_id), "du": str(day), "au": str(day)},
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    assert "slots_offered" in answer.text


async def test_a_bad_period_is_refused_in_french(
    signed_in: httpx.AsyncClient, session: AsyncSession
) -> None:
    world = await make_world(session)
    territory = str(world.territory_id)
    backwards = await signed_in.get(
        "/admin/indicateurs",
        params={"territoire": territory, "du": "2026-05-10", "au": "2026-05-01"},
    )
    assert backwards.status_code == 422
    assert "avant la date" in backwards.text
    too_long = await signed_in.get(
        "/admin/indicateurs",
        params={"territoire": territory, "du": "2024-01-01", "au": "2026-01-01"},
    )
    assert too_long.status_code == 422
    assert "au plus 366 jours" in too_long.text
    garbage = await signed_in.get(
        "/admin/indicateurs", params={"territoire": territory, "du": "demain", "au": "2026-01-01"}
    )
    assert garbage.status_code == 422
    assert "AAAA-MM-JJ" in garbage.text
