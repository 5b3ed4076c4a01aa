"""`/metrics` in the Prometheus text format: the process-wide metrics (services/metrics.py: HTTP, GraphQL
operations, errors by code, jobs, the process) and this app's gauges and counters read at scrape time
(sockets, subscriptions, the database pool, SQL statements, events, queue depths, and the retention purge's
totals over every process, from Redis). In production it answers
only to `Authorization: Bearer <GATEWAY_METRICS_TOKEN>` (and not at all without that setting)."""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from gateway.db import statements_executed
from graph.middleware import ScopedMiddleware
from graph.shared_results import counters as sharing
from services import keys, metrics
from services.resources import Resources

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
QUEUE_TIMEOUT = 1.0
# Route labels: the paths the gateway serves; anything else is `other` (a client cannot mint labels).
ROUTES = ("/graphql", "/healthz", "/readyz", "/metrics", "/.well-known/jwks.json", "/graphiql")


def route_label(path: str) -> str:
    for route in ROUTES:
        if path == route or path.startswith(route + "/"):
            return route
    return "other"


class HttpMetrics(ScopedMiddleware):
    """Counts and times every HTTP request (not WebSockets) by route, method and status."""

    async def wrap(self, scope: Scope, receive: Receive, send: Send) -> None:
        started, status = time.perf_counter(), 500
        route = route_label(scope["path"])

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            metrics.HTTP_REQUESTS.labels(route, scope["method"], str(status)).inc()
            metrics.HTTP_DURATION.labels(route).observe(time.perf_counter() - started)


class PurgeTotals:
    """The retention purge's totals over every process (jobs/retention.py keeps them in Redis), read at scrape
    time: the worker that ran the purge is usually not the process being scraped."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], float] = {}
        self.last_success: float | None = None

    async def update(self, resources: Resources) -> None:
        try:
            async with asyncio.timeout(QUEUE_TIMEOUT):
                totals = await resources.redis.hgetall(keys.PURGE_TOTALS)  # type: ignore[misc]
                last = await resources.redis.get(keys.PURGE_LAST_SUCCESS)
        except Exception:
            return  # the last values read stand
        rows: dict[tuple[str, str], float] = {}
        for field, value in totals.items():
            rule, _, table = (field.decode() if isinstance(field, bytes) else str(field)).partition(":")
            rows[(rule, table)] = float(value)
        self.rows, self.last_success = rows, float(last) if last is not None else None

    def collect(self) -> Iterator[Metric]:
        removed = CounterMetricFamily(
            "gateway_purge_rows_removed",
            "Rows the retention purge removed, all processes, by rule and table.",
            labels=["rule", "table"],
        )
        for (rule, table), value in sorted(self.rows.items()):
            removed.add_metric([rule, table], value)
        yield removed
        if self.last_success is not None:
            yield GaugeMetricFamily(
                "gateway_purge_last_success_timestamp_seconds",
                "When the last complete retention purge ended (any process).",
                self.last_success,
            )


class _AppCollector(Collector):
    def __init__(self, resources: Resources, open_sockets: Callable[[], int], purge: PurgeTotals) -> None:
        self.resources, self.open_sockets, self.purge = resources, open_sockets, purge

    def collect(self) -> Iterator[Metric]:
        yield from self.purge.collect()
        events, pool = self.resources.events, self.resources.engine.pool
        yield CounterMetricFamily("gateway_sql_statements", "SQL statements executed.", statements_executed())
        yield CounterMetricFamily("gateway_events_published", "Events published.", events.counters.published)
        yield CounterMetricFamily(
            "gateway_event_publish_failures", "Events that could not be published.", events.counters.publish_failures
        )
        yield CounterMetricFamily(
            "gateway_event_subscribers_dropped",
            "Subscribers dropped for falling behind.",
            events.counters.dropped_subscribers,
        )
        yield GaugeMetricFamily("gateway_event_subscribers", "Active subscriptions.", events.subscriber_count)
        yield CounterMetricFamily(
            "gateway_subscription_executions",
            "Subscription events whose selection was executed (once per payload, document, variables and viewer).",
            sharing.executions,
        )
        yield CounterMetricFamily(
            "gateway_subscription_results_shared",
            "Subscription results handed to a subscriber without executing the selection again.",
            sharing.shared,
        )
        revocations = self.resources.revocations.counters
        checks = CounterMetricFamily(
            "gateway_revocation_checks",
            "Sign-in revocation checks of HTTP requests, by where the answer came from (services/revocations.py).",
            labels=["source"],
        )
        checks.add_metric(["redis"], revocations.redis_reads)
        checks.add_metric(["remembered"], revocations.remembered)
        yield checks
        yield GaugeMetricFamily("gateway_websockets_open", "Open WebSockets.", self.open_sockets())
        yield GaugeMetricFamily(
            "gateway_db_pool_checked_out", "Pooled database connections in use.", getattr(pool, "checkedout", int)()
        )
        yield GaugeMetricFamily("gateway_db_pool_size", "Database pool size.", getattr(pool, "size", int)())


async def _update_queue_depths(resources: Resources) -> None:
    queues = resources.queues
    named = [(f"tasks-{priority}", queue) for priority, queue in queues.by_priority.items()]
    named.append(("maintenance", queues.maintenance))
    named.append(("assistant", queues.assistant))

    async def depth(name: str, queue: Any) -> None:
        try:
            async with asyncio.timeout(QUEUE_TIMEOUT):
                metrics.QUEUE_DEPTH.labels(name).set(await queue.count("queued"))
        except Exception:
            metrics.QUEUE_DEPTH.labels(name).set(float("nan"))  # unknown, not zero

    await asyncio.gather(*(depth(name, queue) for name, queue in named))


def metrics_route(resources: Resources, open_sockets: Callable[[], int]) -> Route:
    registry = CollectorRegistry()
    purge = PurgeTotals()
    registry.register(_AppCollector(resources, open_sockets, purge))
    settings = resources.settings

    async def endpoint(request: Request) -> Response:
        if settings.is_production:
            token = settings.metrics_token
            given = request.headers.get("authorization", "")
            if not token or not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return PlainTextResponse("Not found", status_code=404)
        await asyncio.gather(_update_queue_depths(resources), purge.update(resources))
        body = generate_latest(metrics.REGISTRY) + generate_latest(registry)
        return Response(body, media_type=CONTENT_TYPE)

    return Route("/metrics", endpoint)
