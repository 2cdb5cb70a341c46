"""The HTTP side of Idempotency-Key: replay the first answer, refuse a reused key."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from app.core import idempotency
from app.core.auth import Principal
from app.core.crypto import request_cipher
from app.core.errors import IdempotencyKeyMissing
from app.schemas.text import Text
from app.services.audit import record as audit

IdempotencyKey = Annotated[
    Text | None,
    Header(
        alias="Idempotency-Key",
        max_length=idempotency.MAX_KEY_LENGTH,
        description="a unique key per intended write; a retry with the same key and body "
        "gets the first answer",
    ),
]


@dataclass(frozen=True)
class AuditedReplay:
    """An answer that holds patient data: each replay is audited as a read (`action` on
    `resource_type`). Every answer is remembered sealed and compared by a keyed digest
    (`core/idempotency`); this one is also a disclosure when replayed."""

    resource_type: str
    action: str


async def idempotent(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    key: str | None,
    body: BaseModel | None,
    status_code: int | Callable[[Any], int],
    produce: Callable[[], Awaitable[Any]],
    *,
    required: bool = False,
    audited_replay: AuditedReplay | None = None,
) -> Response:
    """Run `produce` once per (client, key); the same key and body replay its answer.

    The claim, the write and the remembered answer commit together, so a failed write leaves
    the key free for a retry. `status_code` may depend on what `produce` returned. A `Response`
    returned by `produce` (a refusal whose own writes, such as its audit, must commit) is sent
    as it is and not remembered: the key stays free for a retry. A replay carries the
    `Idempotent-Replayed: true` header, by which the metrics know not to count it again.
    """
    if key is None:
        if required:
            raise IdempotencyKeyMissing(
                "this write requires an Idempotency-Key header (a UUID per intended write)",
                location="Idempotency-Key",
            )
        produced = await produce()
        if isinstance(produced, Response):
            return produced
        return _json_response(produced, _status(produced, status_code))
    canonical = idempotency.canonical_json(
        body.model_dump(mode="json") if body is not None else None
    )
    cipher = request_cipher(request)
    ttl = request.app.state.settings.idempotency_ttl_seconds
    client_id = principal.client_id
    replay = await idempotency.claim(
        session, cipher, client_id, key, request.method, request.url.path, canonical, ttl
    )
    if replay is not None:
        content = replay.body
        if audited_replay is not None:
            await audit.record(
                session,
                principal,
                audited_replay.action,
                audited_replay.resource_type,
                content.get("id") if isinstance(content, dict) else None,
                detail={"idempotent_replay": True},
            )
        return JSONResponse(
            content, status_code=replay.status_code, headers={idempotency.REPLAYED_HEADER: "true"}
        )
    produced = await produce()
    if isinstance(produced, Response):
        await idempotency.forget(session, client_id, key)
        return produced
    content = jsonable_encoder(produced)
    code = _status(produced, status_code)
    await idempotency.remember(session, cipher, client_id, key, code, content)
    return JSONResponse(content, status_code=code)


def replayed(response: Response) -> bool:
    """Whether `response` replays a first answer (so it is no new hold or booking)."""
    return response.headers.get(idempotency.REPLAYED_HEADER) == "true"


def _status(produced: Any, status_code: int | Callable[[Any], int]) -> int:
    return status_code(produced) if callable(status_code) else status_code


def _json_response(produced: Any, status_code: int) -> Response:
    """The answer as JSON: a model serialised once by its own (Rust) serializer, as FastAPI's
    `response_model` would spell it (by alias), anything else through FastAPI's encoder."""
    if isinstance(produced, BaseModel):
        return Response(
            produced.model_dump_json(by_alias=True),
            status_code=status_code,
            media_type="application/json",
        )
    return JSONResponse(jsonable_encoder(produced), status_code=status_code)
