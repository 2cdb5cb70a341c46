import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.core.metrics import count_booking, count_hold
from app.main import create_app
from tests.factories import create_territory

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of sample `name` with exactly these labels in a Prometheus exposition."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return None


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return response.text


async def test_metrics_answers_prometheus_text(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert "# TYPE snp_http_request_duration_seconds histogram" in response.text


async def test_latency_is_labelled_by_route_template_not_raw_path(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    territory = await create_territory(client, admin_headers)
    before = sample(
        await scrape(client),
        "snp_http_request_duration_seconds_count",
        method="GET",
        route="/v1/territories/{territory_id}",
    )
    response = await client.get(f"/v1/territories/{territory['id']}", headers=admin_headers)
    assert response.status_code == 200
    text = await scrape(client)
    after = sample(
        text,
        "snp_http_request_duration_seconds_count",
        method="GET",
        route="/v1/territories/{territory_id}",
    )
    assert after == (before or 0) + 1
    assert territory["id"] not in text


async def test_unknown_path_is_counted_as_unmatched(client: httpx.AsyncClient) -> None:
    before = sample(
        await scrape(client),
        "snp_http_requests_total",
        method="GET",
        route="unmatched",
        status="404",
    )
    assert (await client.get("/no/such/path/12345")).status_code == 404
    text = await scrape(client)
    after = sample(text, "snp_http_requests_total", method="GET", route="unmatched", status="404")
    assert after == (before or 0) + 1
    assert "/no/such/path/12345" not in text


async def test_database_pool_size_and_use_are_exposed(client: httpx.AsyncClient) -> None:
    text = await scrape(client)
    size = sample(text, "snp_db_pool_size")
    limit = sample(text, "snp_db_pool_limit")
    assert size is not None
    assert size >= 1
    assert limit is not None
    assert limit >= size
    assert sample(text, "snp_db_pool_checked_out") is not None


async def test_the_oldest_undelivered_webhook_age_is_read_at_each_scrape(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    # The scrape reads committed rows on its own connection: this delivery is committed (and
    # removed after), written an hour ago to an enabled endpoint.
    async with engine.begin() as conn:
        client_id = await conn.scalar(
            text(
                "INSERT INTO api_clients (name, role, key_prefix, key_hash, webhook_url) "
                "VALUES ('metrics pms', 'practice_software', :p, :h, 'https://pms.example/h') "
                "RETURNING id"
            ),
            {"p": uuid.uuid4().hex[:16], "h": uuid.uuid4().hex},
        )
        await conn.execute(
            text(
                "INSERT INTO webhook_deliveries (outbox_event_id, client_id, created_at) "
                "VALUES (-1, :c, now() - interval '1 hour')"
            ),
            {"c": client_id},
        )
    try:
        text_ = await scrape(client)
        value = sample(text_, "snp_webhook_oldest_undelivered_seconds")
        assert value is not None
        assert value >= 3600
        assert "# TYPE snp_webhook_deliveries_total counter" in text_
        assert "# TYPE snp_webhook_attempt_duration_seconds histogram" in text_
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM api_clients WHERE id = :c"), {"c": client_id})


async def test_a_worker_publishes_its_pool_size_at_startup(settings: Settings) -> None:
    app = create_app(
        settings.model_copy(
            update={
                "db_pool_size": 7,
                "db_max_overflow": 3,
                "db_search_pool_size": 2,
                "db_search_max_overflow": 1,
            }
        )
    )
    size_before = REGISTRY.get_sample_value("snp_db_pool_size") or 0
    limit_before = REGISTRY.get_sample_value("snp_db_pool_limit") or 0
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    sizes: list[float | None] = []

    async def send(message: Any) -> None:
        if message["type"] == "lifespan.startup.complete":
            sizes.append(REGISTRY.get_sample_value("snp_db_pool_size"))
            await inbox.put({"type": "lifespan.shutdown"})

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, send)
    # Two pools a worker: the main one and the searches' own (app/main.py).
    assert sizes == [size_before + 7 + 2]
    assert REGISTRY.get_sample_value("snp_db_pool_limit") == limit_before + 10 + 3


async def test_count_hold_and_count_booking_increment_their_counters(
    client: httpx.AsyncClient,
) -> None:
    text = await scrape(client)
    holds = sample(text, "snp_holds_total", outcome="expired") or 0
    bookings = sample(text, "snp_bookings_total", outcome="fulfilled") or 0
    count_hold("expired")
    count_booking("fulfilled")
    text = await scrape(client)
    assert sample(text, "snp_holds_total", outcome="expired") == holds + 1
    assert sample(text, "snp_bookings_total", outcome="fulfilled") == bookings + 1


_WORKER = """
from app.core.metrics import count_hold
count_hold("created")
"""
_SCRAPER = """
from app.core.metrics import render_metrics
import sys
sys.stdout.write(render_metrics().decode())
"""


def test_multiprocess_mode_sums_the_counters_of_every_worker(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    def run(code: str) -> str:
        done = subprocess.run(  # noqa: S603 (our own interpreter and code)
            [sys.executable, "-c", code],
            env=env,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return done.stdout

    run(_WORKER)
    run(_WORKER)
    assert sample(run(_SCRAPER), "snp_holds_total", outcome="created") == 2
