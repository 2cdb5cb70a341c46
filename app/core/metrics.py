"""Prometheus metrics: request latency per route template, database pool use, holds and bookings,
webhook deliveries, the search audit buffer.

Several uvicorn workers: set `PROMETHEUS_MULTIPROC_DIR` to an empty folder writable by the
workers before the service starts (and empty it at each start); each worker then writes its
values there and `GET /metrics`, answered by any worker, sums them all (prometheus_client's
multiprocess mode). Unset, the metrics live in the process that serves them.
"""

import atexit
import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Milliseconds matter here: the search target is a p99 of 15 ms.
_LATENCY_BUCKETS = (0.001, 0.002, 0.004, 0.008, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 7.0)

REQUEST_SECONDS = Histogram(
    "snp_http_request_duration_seconds",
    "Time from request to the last byte of the response, per route template.",
    ["method", "route"],
    buckets=_LATENCY_BUCKETS,
)
REQUESTS = Counter(
    "snp_http_requests",
    "Answered requests per route template and status code.",
    ["method", "route", "status"],
)
REQUEST_DB_SECONDS = Histogram(
    "snp_http_request_db_seconds",
    "Time spent executing database statements per request, per route template.",
    ["method", "route"],
    buckets=_LATENCY_BUCKETS,
)
POOL_CHECKED_OUT = Gauge(
    "snp_db_pool_checked_out",
    "Database connections currently lent out by the pool (summed over workers).",
    multiprocess_mode="livesum",
)
POOL_SIZE = Gauge(
    "snp_db_pool_size",
    "Configured persistent pool size (summed over workers).",
    multiprocess_mode="livesum",
)
POOL_LIMIT = Gauge(
    "snp_db_pool_limit",
    "Most connections the pools may open: size plus overflow (summed over workers).",
    multiprocess_mode="livesum",
)
HOLDS = Counter("snp_holds", "Holds by outcome (created, released, expired).", ["outcome"])
BOOKINGS = Counter(
    "snp_bookings", "Bookings by outcome (booked, cancelled, fulfilled, noshow).", ["outcome"]
)

WEBHOOK_DELIVERIES = Counter(
    "snp_webhook_deliveries",
    "Webhook attempts by outcome: delivered (2xx), retried (another attempt is scheduled), "
    "failed (no attempt left), gone (410: the endpoint is disabled).",
    ["outcome"],
)
WEBHOOK_ATTEMPT_SECONDS = Histogram(
    "snp_webhook_attempt_duration_seconds",
    "Time of one webhook attempt, from the request to the answer (or the error).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
WEBHOOK_OLDEST_UNDELIVERED = Gauge(
    "snp_webhook_oldest_undelivered_seconds",
    "Age of the oldest pending webhook delivery of an enabled endpoint (0: none), read from "
    "the database at each scrape.",
    multiprocess_mode="mostrecent",
)

SEARCH_ANSWERS = Counter(
    "snp_search_answers",
    "Searches by what answered them: the in-memory index, or SQL and why (not_ready, lagging, "
    "disabled, road_times).",
    ["source", "reason"],
)
SEARCH_INDEX_LAG = Gauge(
    "snp_search_index_lag_seconds",
    "Seconds since each process's search index last caught up with the change feed (the "
    "largest over workers).",
    multiprocess_mode="max",
)
SEARCH_INDEX_READY = Gauge(
    "snp_search_index_ready",
    "1 when a process's search index is loaded and may answer, 0 while it loads (one series per "
    "live worker, labelled by pid).",
    multiprocess_mode="liveall",
)
SEARCH_INDEX_SLOTS = Gauge(
    "snp_search_index_slots",
    "Slots held by each process's search index (the largest over workers).",
    multiprocess_mode="max",
)


# The search audit buffer (app/services/audit/buffer.py): what it wrote, what it dropped, what
# waits in memory (summed over workers), and its COPYs.
AUDIT_ROWS_WRITTEN = Counter(
    "snp_audit_buffer_rows_written", "Search audit events written to the audit trail by COPY."
)
AUDIT_ROWS_DROPPED = Counter(
    "snp_audit_buffer_rows_dropped",
    "Search audit events lost: overflow (the oldest, beyond AUDIT_BUFFER_MAX_ROWS while the "
    "database was away), invalid (refused by add), shutdown (unwritten when the process stopped).",
    ["reason"],
)
AUDIT_ROWS_WAITING = Gauge(
    "snp_audit_buffer_rows_waiting",
    "Search audit events waiting in memory to be written (summed over workers).",
    multiprocess_mode="livesum",
)
AUDIT_COPIES = Counter(
    "snp_audit_buffer_copies",
    "COPYs of the search audit buffer by outcome (written, failed).",
    ["outcome"],
)


def count_hold(outcome: str = "created", amount: int = 1) -> None:
    """Count hold outcomes; HTTP outcomes are already counted by the request middleware."""
    if amount:
        HOLDS.labels(outcome).inc(amount)


def count_booking(outcome: str = "booked") -> None:
    """Count one booking outcome; HTTP outcomes are already counted by the request middleware."""
    BOOKINGS.labels(outcome).inc()


def render_metrics() -> bytes:
    """The Prometheus text exposition of every metric (of every worker in multiprocess mode)."""
    if MULTIPROCESS:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest()


if MULTIPROCESS:
    # A worker's live gauges (pool use) must stop counting once it exits.
    atexit.register(lambda: multiprocess.mark_process_dead(os.getpid()))  # type: ignore[no-untyped-call]
