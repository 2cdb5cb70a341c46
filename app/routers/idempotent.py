"""The HTTP side of Idempotency-Key: replay the first answer, refuse a reused key."""

import base64
import uuid
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
from app.core.crypto import PatientCipher
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
class Sealed:
    """An answer that holds patient data: remembered sealed with `cipher`, its body compared by
    a keyed digest (a plain hash of a patient's name and birth date could be reversed by trying
    them), and each replay audited as a read (`replay_action` on `resource_type`)."""

    cipher: PatientCipher
    resource_type: str
    replay_action: str

    def _context(self, client_id: uuid.UUID, key: str) -> str:
        return f"idempotency:{client_id}:{key}"

    def seal(self, client_id: uuid.UUID, key: str, content: Any) -> Any:
        sealed = self.cipher.seal_json(content, self._context(client_id, key))
        return {"sealed": base64.b64encode(sealed).decode()}

    def open(self, client_id: uuid.UUID, key: str, stored: Any) -> Any:
        sealed = base64.b64decode(stored["sealed"])
        return self.cipher.open_json(sealed, self._context(client_id, key))


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
    sealed: Sealed | None = None,
) -> Response:
    """Run `produce` once per (client, key); the same key and body replay its answer.

    The claim, the write and the remembered answer commit together, so a failed write leaves
    the key free for a retry. `status_code` may depend on what `produce` returned. A `Response`
    returned by `produce` (a refusal whose own writes, such as its audit, must commit) is sent
    as it is and not remembered: the key stays free for a retry.
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
        return JSONResponse(jsonable_encoder(produced), status_code=_status(produced, status_code))
    canonical = idempotency.canonical_json(
        body.model_dump(mode="json") if body is not None else None
    )
    if sealed is not None:
        canonical = sealed.cipher.fingerprint(canonical)
    client_id = principal.client_id
    replay = await idempotency.claim(
        session, client_id, key, request.method, request.url.path, canonical
    )
    if replay is not None:
        content = replay.body
        if sealed is not None:
            content = sealed.open(client_id, key, content)
            await audit.record(
                session,
                principal,
                sealed.replay_action,
                sealed.resource_type,
                content.get("id") if isinstance(content, dict) else None,
                detail={"idempotent_replay": True},
            )
        return JSONResponse(
            content, status_code=replay.status_code, headers={"Idempotent-Replayed": "true"}
        )
    produced = await produce()
    if isinstance(produced, Response):
        await idempotency.forget(session, client_id, key)
        return produced
    content = idempotency.storable_answer(jsonable_encoder(produced))
    code = _status(produced, status_code)
    stored = sealed.seal(client_id, key, content) if sealed is not None else content
    await idempotency.remember(session, client_id, key, code, stored)
    return JSONResponse(content, status_code=code)


def _status(produced: Any, status_code: int | Callable[[Any], int]) -> int:
    return status_code(produced) if callable(status_code) else status_code
