"""The hold domain's refusals."""

from app.core.errors import AppError


class HoldNotLive(AppError):
    status, slug, title = 409, "hold-not-live", "Hold expired, released or already booked"
