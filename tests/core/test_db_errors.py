"""A refused statement never carries the row's values into a logged traceback."""

import traceback

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine


async def test_a_failing_check_keeps_the_row_out_of_the_traceback(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(
            text("CREATE TEMP TABLE probe (radius numeric(6, 2) CHECK (radius > 0), name text)")
        )
        with pytest.raises(IntegrityError) as refused:
            await conn.execute(
                text("INSERT INTO probe VALUES (:r, :n)"), {"r": 0.001, "n": "Dupont Léa"}
            )
        await conn.rollback()
    printed = "".join(traceback.format_exception(refused.value))
    assert "probe_radius_check" in printed  # what failed is still said
    assert "Dupont" not in printed
    assert "Failing row" not in printed
    assert getattr(refused.value.orig, "sqlstate", None) == "23514"
