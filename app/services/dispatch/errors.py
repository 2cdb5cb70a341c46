"""The dispatch domain's refusals."""

from app.core.errors import AppError


class NoFreeSlot(AppError):
    status, slug, title = 404, "no-free-slot", "No free slot"


class DispatchContention(AppError):
    """The dispatch spent its time budget losing races for candidates that others were taking."""

    status, slug, title = 503, "dispatch-contention", "Dispatch busy"
    retry_after = 1
