"""Turn a database constraint refusal into the client's 409, without losing the transaction."""

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict


async def add_unique(session: AsyncSession, instance: object, detail: str, location: str) -> None:
    """Add and flush `instance` inside a savepoint; a unique violation becomes a 409 at `location`.

    The database decides (two concurrent creates cannot both pass a Python check). The instance
    is added inside the savepoint so that its rollback leaves the session usable: a pending
    object from the enclosing transaction that fails to flush would poison the whole session.
    """
    try:
        async with session.begin_nested():
            session.add(instance)
            await session.flush()
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) == "23505":
            raise Conflict(detail, location=location) from None
        raise
