import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, Index, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_at


class AdminSession(Base):
    """A signed-in admin-page visit: the cookie holds a random token, the table its SHA-256.

    The CSRF token every form of the session carries lives beside it; signing out or
    deactivating the account ends the session on the next request.
    """

    __tablename__ = "admin_sessions"

    token_hash: Mapped[str] = mapped_column(Text, primary_key=True)
    admin_user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("admin_users.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class AdminLoginAttempt(Base):
    """One try at the login form, kept to slow down guessing (see app/admin/throttle.py)."""

    __tablename__ = "admin_login_attempts"
    __table_args__ = (
        Index("ix_admin_login_attempts_email_at", "email", "attempted_at"),
        Index("ix_admin_login_attempts_client_at", "client_address", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    email: Mapped[str] = mapped_column(Text)
    client_address: Mapped[str] = mapped_column(Text)
    succeeded: Mapped[bool]
    attempted_at: Mapped[datetime] = created_at()
