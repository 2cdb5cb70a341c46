"""The watches table: create (bounded per regulator), read (owner only), delete, claim a hold."""

import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Principal
from app.core.crypto import PatientCipher
from app.core.errors import AppError, NotFound
from app.schemas.search import SearchQuery
from app.schemas.watch import WatchCreate
from app.services.audit import record as audit
from app.services.outbox.feed import HORIZON

CHANGES_CHANNEL = "watch_changes"


class TooManyWatches(AppError):
    status, slug, title = 429, "too-many-watches", "Too many open watches"


class WatchExpired(AppError):
    status, slug, title = 410, "watch-expired", "The watch has expired"


@dataclass(frozen=True)
class StoredWatch:
    id: uuid.UUID
    regulator_client_id: uuid.UUID
    query: SearchQuery
    hold: bool
    start_txid: int
    created_at: datetime
    expires_at: datetime
    held_event: dict[str, Any] | None


def _context(client_id: uuid.UUID) -> str:
    return f"watch:{client_id}"


# One regulator's creations one at a time: the count and the insert cannot interleave.
_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended('watches:' || :client_id, 0))")

_CREATE = text(
    f"""
    WITH horizon AS ({HORIZON}), open AS (
        SELECT count(*) AS n FROM watches
        WHERE regulator_client_id = :client_id AND deleted_at IS NULL AND expires_at > now()
    )
    INSERT INTO watches (regulator_client_id, query_sealed, hold, start_txid, expires_at)
    SELECT :client_id, :query_sealed, :hold, (SELECT txid FROM horizon),
           now() + make_interval(secs => CAST(:lifetime AS int))
    FROM open WHERE open.n < :max_open
    RETURNING id, created_at, expires_at, start_txid
    """  # noqa: S608 (built from constants only)
)

_SOONEST_EXPIRY = text(
    """
    SELECT extract(epoch FROM min(expires_at) - now()) FROM watches
    WHERE regulator_client_id = :client_id AND deleted_at IS NULL AND expires_at > now()
    """
)

_READ = text(
    """
    SELECT id, regulator_client_id, query_sealed, hold, start_txid, created_at, expires_at,
           held_event, expires_at <= now() AS expired
    FROM watches
    WHERE id = :id AND regulator_client_id = :client_id AND deleted_at IS NULL
    """
)

_DELETE = text(
    """
    WITH gone AS (
        UPDATE watches SET deleted_at = now()
        WHERE id = :id AND regulator_client_id = :client_id AND deleted_at IS NULL
        RETURNING id
    )
    SELECT pg_notify(:channel, CAST(id AS text)) FROM gone
    """
)

# Claims the watch for its one hold: locks its row, so a second stream of the same watch
# waits here and then finds the hold taken (or the watch ended).
_CLAIM = text(
    """
    SELECT id FROM watches
    WHERE id = :id AND hold AND hold_id IS NULL AND deleted_at IS NULL AND expires_at > now()
    FOR UPDATE
    """
)

# A watch over (expired or deleted) for a day: its sealed search goes. Until then its stream
# answers 410 (expired) or 404 (deleted), as its regulator would expect.
_PURGE = text(
    """
    DELETE FROM watches WHERE id IN (
        SELECT id FROM watches
        WHERE least(expires_at, coalesce(deleted_at, expires_at)) < now() - interval '1 day'
        LIMIT :batch FOR UPDATE SKIP LOCKED)
    """
)

_RECORD_HOLD = text(
    "UPDATE watches SET hold_id = :hold_id, held_event = CAST(:held_event AS jsonb) WHERE id = :id"
)


async def create_watch(
    session: AsyncSession,
    principal: Principal,
    body: WatchCreate,
    cipher: PatientCipher,
    max_open: int,
) -> StoredWatch:
    """Store a watch of `body`'s search; 429 when the regulator has `max_open` open already."""
    query = body.search()
    await session.execute(_LOCK, {"client_id": str(principal.client_id)})
    sealed = cipher.seal_json(query.model_dump(mode="json"), _context(principal.client_id))
    row = (
        await session.execute(
            _CREATE,
            {
                "client_id": principal.client_id,
                "query_sealed": sealed,
                "hold": body.hold,
                "lifetime": body.lifetime_seconds,
                "max_open": max_open,
            },
        )
    ).one_or_none()
    if row is None:
        seconds = await session.scalar(_SOONEST_EXPIRY, {"client_id": principal.client_id})
        error = TooManyWatches(
            f"at most {max_open} open watches per regulator; delete one or wait for one to expire"
        )
        error.retry_after = max(1, math.ceil(float(seconds or 1)))
        raise error
    await audit.record(
        session,
        principal,
        "watch.create",
        "watch",
        row.id,
        detail={"lifetime_seconds": body.lifetime_seconds, "hold": body.hold},
    )
    return StoredWatch(
        row.id,
        principal.client_id,
        query,
        body.hold,
        row.start_txid,
        row.created_at,
        row.expires_at,
        None,
    )


async def read_watch(
    session: AsyncSession, principal: Principal, watch_id: uuid.UUID, cipher: PatientCipher
) -> StoredWatch:
    """The regulator's own live watch: 404 if it is not its own (or deleted), 410 if expired."""
    row = (
        await session.execute(_READ, {"id": watch_id, "client_id": principal.client_id})
    ).one_or_none()
    if row is None:
        raise NotFound(f"no watch {watch_id} of yours", location="path.watch_id")
    if row.expired:
        raise WatchExpired(f"watch {watch_id} expired at {row.expires_at.isoformat()}")
    query = SearchQuery.model_validate(
        cipher.open_json(row.query_sealed, _context(principal.client_id))
    )
    await audit.record(session, principal, "watch.read", "watch", watch_id)
    return StoredWatch(
        row.id,
        row.regulator_client_id,
        query,
        row.hold,
        row.start_txid,
        row.created_at,
        row.expires_at,
        row.held_event,
    )


async def delete_watch(session: AsyncSession, principal: Principal, watch_id: uuid.UUID) -> None:
    """End the regulator's watch (its streams, on every process, end at commit); 404 if none."""
    row = (
        await session.execute(
            _DELETE, {"id": watch_id, "client_id": principal.client_id, "channel": CHANGES_CHANNEL}
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"no watch {watch_id} of yours", location="path.watch_id")
    await audit.record(session, principal, "watch.delete", "watch", watch_id)


async def claim_hold(session: AsyncSession, watch_id: uuid.UUID) -> bool:
    """Lock the watch for its one hold; False if it holds one already or has ended."""
    return (await session.scalar(_CLAIM, {"id": watch_id})) is not None


async def record_hold(
    session: AsyncSession, watch_id: uuid.UUID, hold_id: uuid.UUID, held_event: str
) -> None:
    """Keep the hold and the event that said so on the claimed watch."""
    await session.execute(
        _RECORD_HOLD, {"id": watch_id, "hold_id": hold_id, "held_event": held_event}
    )


async def purge_watches(session: AsyncSession, batch: int) -> int:
    """Delete up to `batch` watches over for a day (their sealed search with them); how many."""
    return (await session.execute(_PURGE, {"batch": batch})).rowcount  # type: ignore[attr-defined, no-any-return]
