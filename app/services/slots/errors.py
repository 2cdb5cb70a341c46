"""The slot domain's refusals."""

from app.core.errors import AppError


class SlotNotFree(AppError):
    status, slug, title = 409, "slot-not-free", "Slot not free"
