"""Re-seal the patient data still under an old key with the current one (key rotation).

An operator rotates PATIENT_DATA_KEY by putting the new secret first and keeping the old ones
(they still open what they sealed); `python -m app reseal-patient-data` then walks every sealed
column, opens each value whose key id is not the current one and seals it again under the
current key, in batches of their own transactions (rows leased with SKIP LOCKED, so the service
keeps running). When it reports nothing left under old keys, the old secrets can go.
"""

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core import idempotency
from app.core.crypto import KEY_ID_BYTES, PatientCipher, UndecryptableData
from app.services.audit import record as audit
from app.services.bookings.service import patient_context as booking_context
from app.services.en_sus.service import _context as request_context


@dataclass(frozen=True)
class SealedColumn:
    """A column of sealed values, its row key and the context each value is bound to."""

    table: str
    column: str
    keys: tuple[str, ...]
    context: Callable[..., str]


SEALED_COLUMNS = (
    SealedColumn("bookings", "patient", ("id",), booking_context),
    SealedColumn("en_sus_requests", "reason", ("id",), request_context),
    SealedColumn(
        "idempotency_records",
        "response",
        ("client_id", "key"),
        idempotency._context,  # the one definition of that context
    ),
)


@dataclass
class Resealed:
    resealed: dict[str, int] = field(default_factory=dict)
    undecryptable: dict[str, int] = field(default_factory=dict)


def _batch_sql(column: SealedColumn) -> str:
    keys = ", ".join(column.keys)
    after = f"({keys}) > ({', '.join(f':after_{k}' for k in column.keys)})"
    return (
        f"SELECT {keys}, {column.column} AS sealed FROM {column.table} "  # noqa: S608 (constants)
        f"WHERE {column.column} IS NOT NULL "
        f"AND substring({column.column} FROM 2 FOR {KEY_ID_BYTES}) <> :current "
        f"AND (CAST(:started AS boolean) OR {after}) "
        f"ORDER BY {keys} LIMIT :batch FOR UPDATE SKIP LOCKED"
    )


async def _reseal_batch(
    session: AsyncSession,
    cipher: PatientCipher,
    column: SealedColumn,
    after: Sequence[Any] | None,
    batch: int,
) -> tuple[int, int, Sequence[Any] | None]:
    params: dict[str, Any] = {
        "current": bytes.fromhex(cipher.key_id),
        "started": after is None,
        "batch": batch,
    }
    for name, value in zip(column.keys, after or [None] * len(column.keys), strict=True):
        params[f"after_{name}"] = value if value is not None else _lowest(name)
    rows = (await session.execute(text(_batch_sql(column)), params)).all()
    resealed = undecryptable = 0
    where = " AND ".join(f"{k} = :{k}" for k in column.keys)
    update = text(f"UPDATE {column.table} SET {column.column} = :sealed WHERE {where}")  # noqa: S608
    for row in rows:
        keys = [getattr(row, k) for k in column.keys]
        context = column.context(*keys)
        try:
            opened = cipher.open(row.sealed, context)
        except UndecryptableData:
            undecryptable += 1  # a key no longer configured: left as it is, and reported
            continue
        values = dict(zip(column.keys, keys, strict=True))
        await session.execute(update, {**values, "sealed": cipher.seal(opened, context)})
        resealed += 1
    last = [getattr(rows[-1], k) for k in column.keys] if rows else None
    return resealed, undecryptable, last


def _lowest(name: str) -> Any:
    return uuid.UUID(int=0) if name.endswith("id") else ""


async def reseal_all(
    sessionmaker: async_sessionmaker[AsyncSession], cipher: PatientCipher, batch: int = 500
) -> Resealed:
    """Re-seal every value not under the current key; each batch commits with its audit event."""
    done = Resealed()
    for column in SEALED_COLUMNS:
        name = f"{column.table}.{column.column}"
        done.resealed[name] = done.undecryptable[name] = 0
        after: Sequence[Any] | None = None
        while True:
            async with sessionmaker() as session, session.begin():
                resealed, undecryptable, after = await _reseal_batch(
                    session, cipher, column, after, batch
                )
                if resealed:
                    await audit.record(
                        session,
                        None,
                        "patient_data.reseal",
                        column.table,
                        detail={"count": resealed, "key_id": cipher.key_id},
                        actor_label="system:reseal",
                    )
            done.resealed[name] += resealed
            done.undecryptable[name] += undecryptable
            if after is None:
                break
    return done
