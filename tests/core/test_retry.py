"""A request that lost a deadlock or a serialization race is run again, body and all."""

import httpx
from fastapi import FastAPI, Request

from app.core.errors import install_error_handlers
from app.core.retry import TransientRetry, transient_sqlstate


class _DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"SQLSTATE {sqlstate}")
        self.sqlstate = sqlstate


class _Wrapped(Exception):
    """Like SQLAlchemy's DBAPIError: the driver's error in `.orig`."""

    def __init__(self, orig: Exception) -> None:
        super().__init__("wrapped")
        self.orig = orig


def _app(failures: int, sqlstate: str = "40P01") -> tuple[FastAPI, list[bytes]]:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(TransientRetry)
    seen: list[bytes] = []

    @app.post("/write")
    async def write(request: Request) -> dict[str, int]:
        seen.append(await request.body())
        if len(seen) <= failures:
            raise _Wrapped(_DriverError(sqlstate))
        return {"attempts": len(seen)}

    return app, seen


async def _post(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post("/write", json={"slot": 1})


async def test_a_deadlock_victim_is_run_again_with_the_same_body() -> None:
    app, seen = _app(failures=2)
    response = await _post(app)
    assert (response.status_code, response.json()) == (200, {"attempts": 3})
    assert seen == [b'{"slot":1}'] * 3


async def test_a_serialization_failure_is_run_again_too() -> None:
    app, _ = _app(failures=1, sqlstate="40001")
    assert (await _post(app)).status_code == 200


async def test_a_request_that_keeps_losing_gets_a_503_with_retry_after_not_a_500() -> None:
    app, seen = _app(failures=100)
    response = await _post(app)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("database-contention")
    assert len(seen) == 4


async def test_other_errors_are_not_retried() -> None:
    app, seen = _app(failures=1, sqlstate="23505")
    assert (await _post(app)).status_code == 500
    assert len(seen) == 1


def test_the_sqlstate_is_found_through_wrappers_and_chains() -> None:
    outer = RuntimeError("outer")
    outer.__cause__ = _DriverError("40P01")
    assert transient_sqlstate(outer) == "40P01"
    assert transient_sqlstate(_Wrapped(_DriverError("40001"))) == "40001"
    assert transient_sqlstate(ValueError("no")) is None
