import re

import httpx
import pytest

from app.core.metrics import BOOKINGS, HOLDS
from app.core.server_timing import count_outcome

SERVER_TIMING = re.compile(
    r'^db;dur=(?P<db>[0-9.]+);desc="(?P<n>[0-9]+) statements", total;dur=(?P<total>[0-9.]+)$'
)


def parse(response: httpx.Response) -> tuple[float, int, float]:
    match = SERVER_TIMING.match(response.headers["server-timing"])
    assert match, response.headers["server-timing"]
    return float(match["db"]), int(match["n"]), float(match["total"])


async def test_database_endpoint_reports_its_database_time(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get("/v1/territories", headers=admin_headers)
    assert response.status_code == 200
    db_ms, statements, total_ms = parse(response)
    assert statements >= 1
    assert 0 < db_ms <= total_ms


async def test_endpoint_without_database_reports_zero_database_time(
    client: httpx.AsyncClient,
) -> None:
    db_ms, statements, total_ms = parse(await client.get("/healthz"))
    assert (db_ms, statements) == (0.0, 0)
    assert total_ms >= 0


async def test_problem_answers_carry_server_timing_too(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/territories")
    assert response.status_code == 401
    parse(response)


async def test_database_time_of_one_request_does_not_leak_into_the_next(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await client.get("/v1/territories", headers=admin_headers)
    _, statements, _ = parse(await client.get("/healthz"))
    assert statements == 0


def _value(counter: object, outcome: str) -> float:
    for metric in counter.collect():  # type: ignore[attr-defined]
        for s in metric.samples:
            if s.name.endswith("_total") and s.labels == {"outcome": outcome}:
                return float(s.value)
    return 0.0


@pytest.mark.parametrize(
    ("method", "route", "status", "counter", "outcome"),
    [
        ("POST", "/v1/holds", 201, HOLDS, "created"),
        ("POST", "/v1/dispatch", 201, HOLDS, "created"),
        ("DELETE", "/v1/holds/{hold_id}", 204, HOLDS, "released"),
        ("POST", "/v1/bookings", 201, BOOKINGS, "booked"),
        ("POST", "/v1/bookings/{booking_id}/cancel", 200, BOOKINGS, "cancelled"),
    ],
)
def test_successful_hold_or_booking_write_is_counted(
    method: str, route: str, status: int, counter: object, outcome: str
) -> None:
    before = _value(counter, outcome)
    count_outcome(method, route, status)
    assert _value(counter, outcome) == before + 1


def test_refused_hold_is_not_counted() -> None:
    before = _value(HOLDS, "created")
    count_outcome("POST", "/v1/holds", 409)
    count_outcome("POST", "/v1/dispatch", 404)
    assert _value(HOLDS, "created") == before


def test_renewed_hold_is_not_counted_as_a_new_one() -> None:
    before = _value(HOLDS, "created")
    count_outcome("POST", "/v1/holds", 200)
    assert _value(HOLDS, "created") == before
