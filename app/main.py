"""The application factory: lifespan (database, background work), routers and error handlers."""

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import admin
from app.core.auth import PrincipalCache
from app.core.background import BackgroundWork
from app.core.body import component_schemas
from app.core.config import Settings, get_settings
from app.core.db import create_engine, create_sessionmaker
from app.core.db_faults import install_database_fault_handler
from app.core.embedded import start_embedded_postgres
from app.core.errors import install_error_handlers
from app.core.limits import BodySizeLimit
from app.core.openapi import build_openapi
from app.core.rate_limit import RateLimiter, deployment_processes
from app.core.retry import TransientRetry
from app.core.server_timing import RequestTiming
from app.routers import (
    api_clients,
    audit_events,
    bookings,
    communes,
    deliveries,
    dispatch,
    events,
    fhir,
    health,
    holds,
    indicators,
    metrics,
    professionals,
    requests,
    searches,
    sites,
    slots,
    smart,
    territories,
    watches,
)
from app.schemas.dispatch import DispatchRequest
from app.schemas.search import SearchQuery
from app.schemas.slot import SlotItem
from app.services.audit.buffer import AuditBuffer
from app.services.fhir.appointment_worker import AppointmentWorker
from app.services.search.index.live import SearchIndex
from app.services.sweeper import run_sweeper
from app.services.watches.hub import WatchHub
from app.services.webhooks.retention import run_retention
from app.services.webhooks.worker import DeliveryWorker

logger = logging.getLogger(__name__)

_REF = "#/components/schemas/{model}"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = settings.database_url or start_embedded_postgres(settings.app_data_dir)
        engine = create_engine(url, settings)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        # Searches read through a pool of their own, planned per execution (app/core/db.py).
        search_engine = create_engine(url, settings, plans_per_execution=True)
        app.state.search_engine = search_engine
        app.state.search_sessionmaker = create_sessionmaker(search_engine)
        # The free slots in memory, kept current by the change feed (issue 15): searches read
        # it once it is loaded and fresh, the SQL search meanwhile.
        app.state.search_index = None
        if settings.search_index_enabled:
            app.state.search_index = SearchIndex(url, settings)
        background = BackgroundWork()
        stopping = background.stopping
        # The searches' audit events: buffered in the process, written by COPY at least every
        # AUDIT_FLUSH_INTERVAL_SECONDS, and once more at shutdown (app/services/audit/buffer.py).
        app.state.audit_buffer = AuditBuffer(
            engine,
            flush_interval_seconds=settings.audit_flush_interval_seconds,
            flush_rows=settings.audit_flush_rows,
            max_rows=settings.audit_buffer_max_rows,
        )
        background.start("audit-buffer", app.state.audit_buffer.run(stopping))
        # Expired holds, en-sus requests and idempotency records: swept in every process
        # (leased with SKIP LOCKED).
        background.start(
            "expiry-sweeper",
            run_sweeper(
                app.state.sessionmaker,
                settings.hold_sweep_interval_seconds,
                settings.idempotency_ttl_seconds,
                settings.patient_data_retention_days,
                stopping,
            ),
        )
        # Webhook deliveries: every process runs a worker (leased with SKIP LOCKED).
        if app.state.search_index is not None:
            background.start("search-index", app.state.search_index.run(stopping))
        background.start(
            "webhook-delivery",
            DeliveryWorker(app.state.sessionmaker, url, settings).run(stopping),
        )
        # Old events and their delivered deliveries: purged by one process at a time.
        background.start(
            "event-retention",
            run_retention(
                app.state.sessionmaker,
                settings.event_retention_days,
                settings.failed_delivery_retention_days,
                stopping=stopping,
            ),
        )
        # The watches' streams served by this process, driven by the change feed (issue 17).
        app.state.watch_hub = WatchHub(
            app.state.sessionmaker, app.state.search_sessionmaker, url, settings
        )
        background.start("watch-hub", app.state.watch_hub.run(stopping))
        # Appointments of SAS regulators' bookings to the SAS (FHIR INT_R03), when configured.
        if settings.sas_appointment_endpoint is not None:
            worker = AppointmentWorker(app.state.sessionmaker, url, settings)
            background.start("sas-appointments", worker.run(stopping))
        # What startup loaded (modules, tables, caches) lives as long as the process: frozen, the
        # cyclic collector never scans it again. Measured on the FHIR Slot search: each full
        # collection cost ~100 ms (its p99 went from 113 to 19 ms in process).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            # After uvicorn let the requests in flight finish: each loop ends its unit of work
            # (the audit buffer writes what waits), before the engines go.
            await background.stop(settings.shutdown_grace_seconds)
            await engine.dispose()
            await search_engine.dispose()

    app = FastAPI(
        title="SNP dispatch",
        version="0.1.0",
        summary="The shared unscheduled-care (SNP) agenda and dispatcher of a CPTS.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.principal_cache = PrincipalCache(settings.api_key_cache_seconds)
    app.state.rate_limiter = RateLimiter(
        settings.rate_limits, deployment_processes(settings.rate_limit_processes)
    )
    install_error_handlers(app)
    install_database_fault_handler(app)
    fhir.install_fhir_error_handlers(app)  # OperationOutcome under /fhir
    # Innermost: a cached regulator's search answered from the index, before the routing.
    app.add_middleware(searches.SearchLane)
    app.add_middleware(TransientRetry)  # replays a request that lost a deadlock
    slot_item = SlotItem.model_json_schema(ref_template=_REF)
    # The shapes of the watch stream's `data` (text/event-stream has no schema of its own).
    stream_schemas = {
        name: {k: v for k, v in model.model_json_schema(ref_template=_REF).items() if k != "$defs"}
        for name, model in watches.EVENT_SCHEMAS.items()
    }
    app.openapi = lambda: build_openapi(  # type: ignore[method-assign]
        app,
        {
            "SlotItem": slot_item,
            **stream_schemas,
            **component_schemas(SearchQuery),
            **component_schemas(DispatchRequest),
        },
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestTiming)  # outermost: times and counts every answer
    for module in (
        # The hot paths first: a request is matched against the routes in this order.
        searches,
        dispatch,
        health,
        territories,
        professionals,
        sites,
        api_clients,
        deliveries,
        audit_events,
        metrics,
        communes,
        slots,
        holds,
        bookings,
        requests,
        events,
        indicators,
        watches,
        fhir,
        smart,
    ):
        app.include_router(module.router)
    admin.install(app)
    return app
