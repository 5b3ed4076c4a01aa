"""The process's Prometheus metrics, recorded where things happen (HTTP, GraphQL operations, jobs) and
exposed by the web process at `/metrics`. Label values that come from clients (operation names) are bounded:
a name that is not a plain GraphQL name, or beyond the first `MAX_OPERATION_NAMES` seen, counts as `other`."""

from __future__ import annotations

import re
import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.process_collector import ProcessCollector

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "gateway_http_requests", "HTTP requests answered.", ["route", "method", "status"], registry=REGISTRY
)
HTTP_DURATION = Histogram(
    "gateway_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["route"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
OPERATIONS = Counter(
    "gateway_graphql_operations", "GraphQL operations run.", ["operation_name", "operation_type"], registry=REGISTRY
)
OPERATION_DURATION = Histogram(
    "gateway_graphql_operation_duration_seconds",
    "Time to run a GraphQL operation (a subscription: to set it up).",
    ["operation_name", "operation_type"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
ERRORS = Counter("gateway_graphql_errors", "GraphQL errors answered, by code.", ["code"], registry=REGISTRY)
JOB_DURATION = Histogram(
    "gateway_job_duration_seconds",
    "Run time of background jobs, by function and outcome.",
    ["function", "status"],
    buckets=(*LATENCY_BUCKETS, 30.0, 60.0, 300.0),
    registry=REGISTRY,
)
PURGED_ROWS = Counter(
    "gateway_purge_rows",
    "Rows the retention purge removed in this process, by rule and table.",
    ["rule", "table"],
    registry=REGISTRY,
)
PURGED_FILES = Counter(
    "gateway_purge_files",
    "Stored files the retention purge removed (or failed to), this process.",
    ["outcome"],
    registry=REGISTRY,
)
PURGE_RUNS = Counter("gateway_purge_runs", "Retention purges run in this process.", ["outcome"], registry=REGISTRY)
PURGE_DURATION = Histogram(
    "gateway_purge_duration_seconds",
    "Time one rule of the retention purge took.",
    ["rule"],
    buckets=(0.01, 0.1, 1.0, 10.0, 60.0, 300.0, 1800.0),
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge("gateway_job_queue_depth", "Jobs waiting in each queue.", ["queue"], registry=REGISTRY)

MAX_OPERATION_NAMES = 500
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_known_names: set[str] = set()
_lock = threading.Lock()


def operation_label(name: object) -> str:
    if name is None:
        return "anonymous"
    if not isinstance(name, str) or not _NAME.match(name):
        return "other"
    with _lock:
        if name in _known_names:
            return name
        if len(_known_names) >= MAX_OPERATION_NAMES:
            return "other"
        _known_names.add(name)
    return name


_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,39}$")


def error_label(code: object) -> str:
    return code if isinstance(code, str) and _CODE.match(code) else "OTHER"
