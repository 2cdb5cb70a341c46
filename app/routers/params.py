"""Query parameters shared by list endpoints."""

from typing import Annotated

from fastapi import Query

Limit = Annotated[int, Query(ge=1, le=500, description="page size")]
Cursor = Annotated[
    str | None, Query(max_length=200, description="`next_cursor` of the previous page")
]
