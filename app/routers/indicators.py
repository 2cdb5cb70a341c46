import uuid
from datetime import date
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import Response

from app.core.auth import AdminDep
from app.core.db import SessionDep
from app.core.openapi import problems
from app.schemas.indicators import Indicators
from app.services.indicators.csv_export import COLUMNS, indicators_csv
from app.services.indicators.service import MAX_PERIOD_DAYS, territory_indicators

router = APIRouter(prefix="/v1/indicators", tags=["indicators"])

_CSV_EXAMPLE = ",".join(COLUMNS) + "\r\ntotals,,,,,,bookings,12\r\n"


@router.get(
    "",
    response_model=Indicators,
    responses={
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}, "example": _CSV_EXAMPLE},
            },
            "description": "The figures, as JSON or (`format=csv`) as CSV, one figure a line.",
        },
        **problems(404),
    },
)
async def get_indicators(
    session: SessionDep,
    admin: AdminDep,
    territory: uuid.UUID,
    from_: Annotated[date, Query(alias="from", description="First day, in the territory's zone")],
    to: Annotated[date, Query(description=f"Last day (included); at most {MAX_PERIOD_DAYS} days")],
    format: Literal["json", "csv"] = "json",  # noqa: A002 (the query parameter's name)
) -> Response:
    """A territory's SNP indicators for a period of whole days (the CPTS's report).

    Slots offered per ISO week and professional by modality and label; each professional's
    weeks (SNP hours, ≥ 2 h forfait, majorations capped at their weekly cap); searches, holds,
    bookings and their outcomes, the share within 48 h of the search, the median distance and
    delay; en-sus requests. `format=csv`: the same figures, one a line."""
    data = await territory_indicators(session, admin, territory, from_, to)
    if format == "csv":
        return Response(
            indicators_csv(data),
            media_type="text/csv",
            headers={
                "Content-Disposition": (
                    f'attachment; filename="indicators-{territory}-{from_}-{to}.csv"'
                )
            },
        )
    # The shape of `Indicators` (the schema documents it), built as plain values by the service.
    return Response(orjson.dumps(data), media_type="application/json")
