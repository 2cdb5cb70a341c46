"""The dispatch domain's refusals."""

from app.core.errors import AppError


class NoFreeSlot(AppError):
    status, slug, title = 404, "no-free-slot", "No free slot"
