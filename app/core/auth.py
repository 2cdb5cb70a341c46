"""Who is calling: the API key in `Authorization: Bearer …`, its role and its scope."""

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import text

from app.core.db import SessionDep
from app.core.errors import Forbidden, Unauthenticated
from app.core.security import hash_api_key


@dataclass(frozen=True)
class Principal:
    """An authenticated API client and what it may touch."""

    client_id: uuid.UUID
    name: str
    role: str
    territory_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    professional_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)

    @property
    def label(self) -> str:
        return f"{self.role}:{self.name}"

    def require_professional(self, professional_id: uuid.UUID) -> None:
        if self.role != "admin" and professional_id not in self.professional_ids:
            raise Forbidden("this client may not act for that professional")


# The client's current key, or its previous one until the grace period of a rotation ends;
# `valid_for` (seconds) is how long the previous key has left, NULL for the current key.
_PRINCIPAL_SQL = text(
    """
    SELECT c.id, c.name, c.role,
           ARRAY(SELECT territory_id FROM api_client_territories
                 WHERE client_id = c.id) AS territory_ids,
           ARRAY(SELECT professional_id FROM api_client_professionals
                 WHERE client_id = c.id) AS professional_ids,
           CASE WHEN c.key_hash = :key_hash THEN NULL
                ELSE EXTRACT(EPOCH FROM c.previous_key_expires_at - statement_timestamp())
           END AS valid_for
    FROM api_clients c
    WHERE c.active
      AND (c.key_hash = :key_hash
           OR (c.previous_key_hash = :key_hash
               AND c.previous_key_expires_at > statement_timestamp()))
    """
)


class PrincipalCache:
    """A short per-process cache of key → principal, so most requests skip the lookup query.

    A revoked or changed client (a rotated key) is seen by every process within `ttl` seconds;
    the process that revokes it or rotates its key forgets it at once. A previous key in its
    grace period is kept no longer than the grace lasts.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, Principal]] = {}

    def get(self, key_hash: str) -> Principal | None:
        entry = self._entries.get(key_hash)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key_hash: str, principal: Principal, valid_for: float | None = None) -> None:
        """Keep `principal` for `ttl` seconds, or for `valid_for` if the key expires sooner."""
        keep = self.ttl if valid_for is None else min(self.ttl, valid_for)
        if keep > 0:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key_hash] = (time.monotonic() + keep, principal)

    def forget_client(self, client_id: uuid.UUID) -> None:
        for key_hash, (_, principal) in list(self._entries.items()):
            if principal.client_id == client_id:
                del self._entries[key_hash]


# Declares the bearer scheme in the OpenAPI document, on every operation that needs a key;
# without auto_error, a missing or malformed header reaches our own 401 problem.
_BEARER = HTTPBearer(scheme_name="bearer", description="the client's API key", auto_error=False)


def _bearer_key(credentials: HTTPAuthorizationCredentials | None) -> str:
    key = credentials.credentials.strip() if credentials is not None else ""
    if not key:
        raise Unauthenticated("send the API key as `Authorization: Bearer <key>`")
    return key


async def current_principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
) -> Principal:
    """The calling client; 401 without a valid active key.

    A key in the process's cache costs no query (the request's session stays unused).
    """
    key_hash = hash_api_key(_bearer_key(credentials))
    cache: PrincipalCache = request.app.state.principal_cache
    principal = cache.get(key_hash)
    if principal is None:
        row = (await session.execute(_PRINCIPAL_SQL, {"key_hash": key_hash})).one_or_none()
        if row is None:
            raise Unauthenticated("unknown or revoked API key")
        principal = Principal(
            client_id=row.id,
            name=row.name,
            role=row.role,
            territory_ids=frozenset(row.territory_ids),
            professional_ids=frozenset(row.professional_ids),
        )
        cache.put(key_hash, principal, None if row.valid_for is None else float(row.valid_for))
    await request.app.state.rate_limiter.hit(principal.role, str(principal.client_id))
    request.state.principal = principal
    return principal


def require_role(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets through only clients of one of `roles` (403 otherwise)."""

    async def dependency(
        principal: Annotated[Principal, Depends(current_principal)],
    ) -> Principal:
        if principal.role not in roles:
            raise Forbidden(f"this endpoint is for the role(s) {', '.join(roles)}")
        return principal

    return dependency


# Any client with a valid key, whatever its role (the event feed).
ClientDep = Annotated[Principal, Depends(current_principal)]
AdminDep = Annotated[Principal, Depends(require_role("admin"))]
RegulatorDep = Annotated[Principal, Depends(require_role("regulator"))]
PracticeSoftwareDep = Annotated[Principal, Depends(require_role("practice_software"))]
SasPlatformDep = Annotated[Principal, Depends(require_role("sas_platform"))]
PracticeSoftwareOrAdminDep = Annotated[
    Principal, Depends(require_role("practice_software", "admin"))
]
