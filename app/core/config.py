"""Settings, read once from the environment."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import (
    AnyHttpUrl,
    Field,
    NonNegativeFloat,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PATIENT_DATA_KEY = "development-only-patient-data-key-change-me"


class Settings(BaseSettings):
    """Every setting of the service; operators set them as environment variables."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    app_env: Literal["development", "production"] = "development"
    database_url: str | None = None
    app_data_dir: Path = Path(".data")
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=5, ge=0, le=200)
    # The searches' own pool (planned per execution, autocommitted): a search holds a connection
    # for one statement, so a small pool serves many.
    db_search_pool_size: int = Field(default=4, ge=1, le=200)
    db_search_max_overflow: int = Field(default=4, ge=0, le=200)
    db_statement_timeout_ms: int = Field(default=5000, ge=100)
    # Bounds of the wait for the database: a new connection, a free pooled one. Past them the
    # request is a 503 (core.db_faults), never a hang.
    # At shutdown (SIGTERM): how long the requests in flight, then the background loops, may take
    # to finish before they are cut.
    shutdown_grace_seconds: float = Field(default=20.0, gt=0, le=300)
    db_connect_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    db_pool_timeout_seconds: float = Field(default=30.0, gt=0, le=120)
    # A dispatch gives up (503, Retry-After) after waiting this long in all on rivals' row locks.
    dispatch_budget_seconds: float = Field(default=2.0, gt=0, le=30)
    patient_data_key: SecretStr = SecretStr(DEFAULT_PATIENT_DATA_KEY)
    webhook_allow_private_targets: bool = False
    # Webhook delivery: the delays between attempts (Standard Webhooks: 5 s, 5 min, 30 min, 2 h,
    # 5 h, 10 h, 10 h after the immediate first attempt; each with jitter), how often a worker
    # looks for due deliveries when no NOTIFY woke it, and the bounds of one attempt.
    webhook_retry_delays_seconds: list[NonNegativeFloat] = Field(
        default=[5, 300, 1800, 7200, 18000, 36000, 36000], min_length=0, max_length=20
    )
    webhook_poll_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    webhook_connect_timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    webhook_read_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    # Retention: an event and its deliveries are purged this many days after it occurred once
    # they are delivered (a feed-only event: by age alone); a failed delivery is kept (visible,
    # replayable) for `failed_delivery_retention_days`; a pending one is never purged.
    event_retention_days: int = Field(default=30, ge=1, le=3650)
    failed_delivery_retention_days: int = Field(default=90, ge=1, le=3650)
    # SAS (FHIR, app/services/fhir). The FHIR base of the SAS that receives the Appointments of
    # SAS regulators' bookings (INT_R03; unset: none is sent, they wait in the outbox); the
    # client certificate and key (PEM) of mutual TLS, the CA bundle that checks the SAS server
    # (unset: the system's); our identifier system of those Appointments (an OID `urn:oid:…` or
    # a URL of the editor); the delays between attempts; the poll when no NOTIFY woke the worker.
    sas_appointment_endpoint: AnyHttpUrl | None = None
    sas_client_cert_path: Path | None = None
    sas_client_key_path: Path | None = None
    sas_ca_bundle_path: Path | None = None
    sas_appointment_identifier_system: str = "urn:snp-dispatch:appointment"
    sas_retry_delays_seconds: list[NonNegativeFloat] = Field(
        default=[5, 30, 120, 600, 1800, 3600, 7200, 14400], min_length=0, max_length=20
    )
    sas_poll_interval_seconds: float = Field(default=2.0, gt=0, le=60)
    sas_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    # The public base URL of /fhir as the SAS sees it (behind a proxy), for `fullUrl`, links and
    # `Location`; unset: from the request (the proxy's X-Forwarded-* when uvicorn trusts it).
    fhir_base_url: AnyHttpUrl | None = None
    api_key_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    log_level: str = "INFO"
    # uvicorn's line per request (`python -m app serve`); off by default (docs/performance.md).
    access_log: bool = False
    # Search (POST /v1/searches): optional OSRM table API for travel times, else straight line.
    osrm_url: str | None = None
    osrm_timeout_seconds: float = Field(default=0.3, gt=0, le=10)
    search_travel_speed_kmh: float = Field(default=30.0, gt=0, le=200)
    search_travel_margin_minutes: float = Field(default=10.0, ge=0, le=240)
    # A search estimates its bound from at most this many nearest sites (it never cuts the answer);
    # a site offers at most `search_slots_per_site` slots, its best by the ranking.
    search_site_cap: int = Field(default=100, ge=5, le=10_000)
    search_slots_per_site: int = Field(default=3, ge=1, le=50)
    # Watches of a search (issue 17): how many a regulator may have open at once, the interval
    # of a stream's heartbeats, and how often a process serving streams reads the change feed
    # when no NOTIFY woke it (a lost listener connection, an event held back by the horizon).
    watch_max_open_per_regulator: int = Field(default=20, ge=1, le=1000)
    watch_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    watch_poll_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    # The in-memory free-slot index of each process (issue 15, services/search/index): searches
    # read it while it has heard from the change feed within SEARCH_INDEX_MAX_LAG_SECONDS, else
    # the SQL search answers. It reads the feed at every NOTIFY and at least every
    # SEARCH_INDEX_POLL_SECONDS, and holds the slots starting up to 72 h + the margin ahead.
    search_index_enabled: bool = True
    search_index_max_lag_seconds: float = Field(default=2.0, gt=0, le=300)
    search_index_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    search_index_margin_minutes: float = Field(default=60.0, ge=10, le=24 * 60)
    # The search audit events (`search.run`) of a process wait in memory and are written by COPY
    # (app/services/audit/buffer.py): at least every `audit_flush_interval_seconds`, at once when
    # `audit_flush_rows` wait (also the most one COPY writes). While the database is away at most
    # `audit_buffer_max_rows` are kept; beyond, the oldest are dropped (and counted).
    audit_flush_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    audit_flush_rows: int = Field(default=2000, ge=1, le=100_000)
    audit_buffer_max_rows: int = Field(default=100_000, ge=1, le=10_000_000)
    # Background expiry of holds and en-sus requests, and how long an en-sus request stays open.
    hold_sweep_interval_seconds: float = Field(default=5.0, gt=0, le=300)
    # A hold's whole life, renewals included, counted from its creation; at least the longest
    # single hold (900 s, `schemas.hold.MAX_HOLD_SECONDS`), so only renewals are ever cut by it.
    hold_max_lifetime_seconds: int = Field(default=900, ge=900, le=3600)
    en_sus_request_ttl_seconds: int = Field(default=1800, ge=60, le=48 * 3600)
    # How long an Idempotency-Key's record (sealed answer) is kept; the sweep deletes older ones.
    # At most 24 h: most answers derive from a patient (a booking, a dispatch, an en-sus request).
    idempotency_ttl_seconds: int = Field(default=86400, ge=60, le=86400)
    # The sealed patient data of a booking (after its consultation) and of an en-sus request
    # (after it closed) is purged this many days later; the facts the indicators count stay.
    patient_data_retention_days: int = Field(default=90, ge=1, le=3650)

    # Requests per API client by role (`limits` notation: "200/second;5000/minute"; empty:
    # unlimited), each process counting its share: the limit divided by the processes of the
    # deployment (workers × replicas; unset: this server's worker count). See core.rate_limit.
    rate_limit_admin: str = "20/second"
    rate_limit_regulator: str = "200/second"
    rate_limit_practice_software: str = "20/second"
    rate_limit_sas_platform: str = "50/second"
    rate_limit_processes: int | None = Field(default=None, ge=1, le=4096)

    @field_validator(
        "rate_limit_admin",
        "rate_limit_regulator",
        "rate_limit_practice_software",
        "rate_limit_sas_platform",
    )
    @classmethod
    def _a_limit_the_limits_library_reads(cls, value: str) -> str:
        from app.core.rate_limit import parse_limits

        parse_limits(value)  # ValueError names what it could not read
        return value

    @property
    def rate_limits(self) -> dict[str, str]:
        return {
            "admin": self.rate_limit_admin,
            "regulator": self.rate_limit_regulator,
            "practice_software": self.rate_limit_practice_software,
            "sas_platform": self.rate_limit_sas_platform,
        }

    @model_validator(mode="after")
    def _audit_buffer_holds_a_flush(self) -> "Settings":
        if self.audit_buffer_max_rows < self.audit_flush_rows:
            raise ValueError("AUDIT_BUFFER_MAX_ROWS must be at least AUDIT_FLUSH_ROWS")
        return self

    @model_validator(mode="after")
    def _sas_key_goes_with_its_certificate(self) -> "Settings":
        if self.sas_client_key_path is not None and self.sas_client_cert_path is None:
            raise ValueError("SAS_CLIENT_KEY_PATH needs SAS_CLIENT_CERT_PATH")
        return self

    @model_validator(mode="after")
    def _refuse_default_secrets_in_production(self) -> "Settings":
        if self.app_env == "production":
            if self.patient_data_key.get_secret_value() == DEFAULT_PATIENT_DATA_KEY:
                raise ValueError("PATIENT_DATA_KEY must be set in production")
            if not self.database_url:
                raise ValueError("DATABASE_URL must be set in production (no embedded database)")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
