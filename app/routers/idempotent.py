"""The HTTP side of Idempotency-Key: replay the first answer, refuse a reused key."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import orjson
from fastapi import Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.errors import IdempotencyKeyMissing
from app.services import idempotency

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=idempotency.MAX_KEY_LENGTH,
        description="a unique key per intended write; a retry with the same key and body "
        "gets the first answer",
    ),
]


async def idempotent(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    key: str | None,
    body: BaseModel | None,
    status_code: int,
    produce: Callable[[], Awaitable[Any]],
    *,
    required: bool = False,
) -> JSONResponse:
    """Run `produce` once per (client, key); the same key and body replay its answer.

    The claim, the write and the remembered answer commit together, so a failed write leaves
    the key free for a retry.
    """
    if key is None:
        if required:
            raise IdempotencyKeyMissing(
                "this write requires an Idempotency-Key header (a UUID per intended write)",
                location="Idempotency-Key",
            )
        return JSONResponse(jsonable_encoder(await produce()), status_code=status_code)
    canonical = orjson.dumps(
        body.model_dump(mode="json") if body is not None else None, option=orjson.OPT_SORT_KEYS
    )
    replay = await idempotency.claim(
        session, principal.client_id, key, request.method, request.url.path, canonical
    )
    if replay is not None:
        return JSONResponse(
            replay.body, status_code=replay.status_code, headers={"Idempotent-Replayed": "true"}
        )
    content = jsonable_encoder(await produce())
    await idempotency.remember(session, principal.client_id, key, status_code, content)
    return JSONResponse(content, status_code=status_code)
