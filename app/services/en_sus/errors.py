"""The en-sus domain's refusals."""

from app.core.errors import AppError


class RequestNotOpen(AppError):
    status, slug, title = 409, "request-not-open", "En-sus request no longer open"
