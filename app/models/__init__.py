"""Every table, imported here so that Alembic and the tests see them all."""

from app.models.admin_session import AdminLoginAttempt, AdminSession
from app.models.admin_user import AdminUser
from app.models.api_client import ROLES, ApiClient, ApiClientProfessional, ApiClientTerritory
from app.models.audit_event import AuditEvent
from app.models.base import Base
from app.models.booking import ACTIVE_BOOKING_STATUSES, BOOKING_STATUSES, Booking
from app.models.commune import Commune
from app.models.en_sus_request import EnSusRequest
from app.models.idempotency_record import IdempotencyRecord
from app.models.outbox_event import OutboxEvent
from app.models.professional import Professional
from app.models.sas_appointment import SAS_APPOINTMENT_STATES, SasAppointment
from app.models.sas_regulator import SasRegulator
from app.models.search_directory_version import SearchDirectoryVersion
from app.models.site import Site, SiteProfessional
from app.models.slot import ACTIVE_SLOT_STATUSES, LABELS, MODALITIES, SLOT_STATUSES, Slot
from app.models.territory import Territory
from app.models.watch import Watch
from app.models.webhook_delivery import DELIVERY_STATUSES, WebhookDelivery

__all__ = [
    "ACTIVE_BOOKING_STATUSES",
    "ACTIVE_SLOT_STATUSES",
    "BOOKING_STATUSES",
    "DELIVERY_STATUSES",
    "LABELS",
    "MODALITIES",
    "ROLES",
    "SAS_APPOINTMENT_STATES",
    "SLOT_STATUSES",
    "AdminLoginAttempt",
    "AdminSession",
    "AdminUser",
    "ApiClient",
    "ApiClientProfessional",
    "ApiClientTerritory",
    "AuditEvent",
    "Base",
    "Booking",
    "Commune",
    "EnSusRequest",
    "IdempotencyRecord",
    "OutboxEvent",
    "Professional",
    "SasAppointment",
    "SasRegulator",
    "SearchDirectoryVersion",
    "Site",
    "SiteProfessional",
    "Slot",
    "Territory",
    "Watch",
    "WebhookDelivery",
]
