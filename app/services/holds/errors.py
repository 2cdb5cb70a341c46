"""The hold domain's refusals."""

from datetime import datetime

from app.core.errors import AppError


class HoldNotLive(AppError):
    status, slug, title = 409, "hold-not-live", "Hold expired, released or already booked"


class HoldLifetimeReached(AppError):
    status, slug, title = 409, "hold-lifetime-reached", "Hold reached its maximum lifetime"


def hold_not_live(status: str, expires_at: datetime | None, *, location: str) -> HoldNotLive:
    """Why a hold in `status` (not live: lapsed, released, expired or booked) cannot be used."""
    if status == "held" and expires_at is not None:
        detail = f"the hold expired at {expires_at.isoformat()}; hold the slot again"
    elif status in ("held", "released", "expired"):
        detail = f"the hold was {status}; hold the slot again"
    else:
        detail = f"this hold is already a booking ({status})"
    return HoldNotLive(detail, location=location, hold_status=status)
