"""Turn a database constraint refusal into the client's 409, without losing the transaction."""

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict


async def flush_unique(session: AsyncSession, detail: str, location: str) -> None:
    """Flush inside a savepoint; a unique violation becomes a 409 naming `location`.

    The database decides (two concurrent creates cannot both pass a Python check).
    """
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) == "23505" or "unique" in str(exc.orig).lower():
            raise Conflict(detail, location=location) from None
        raise
