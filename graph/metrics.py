"""`/metrics` in the Prometheus text format: GraphQL requests, SQL statements, events and the process."""

from __future__ import annotations

import time
from typing import Any

import psutil
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from gateway.db import statements_executed
from services.resources import Resources


class Metrics:
    def __init__(self) -> None:
        self.started = time.time()
        self.requests = 0
        self.process = psutil.Process()

    def counting(self, app: ASGIApp) -> ASGIApp:
        """`app` counting its HTTP requests."""
        return _Counted(app, self)

    def route(self, resources: Resources) -> Route:
        async def metrics(_: Request) -> Response:
            events = resources.events
            samples = [
                ("counter", "gateway_http_graphql_requests_total", self.requests),
                ("counter", "gateway_sql_statements_total", statements_executed()),
                ("counter", "gateway_events_published_total", events.counters.published),
                ("counter", "gateway_event_publish_failures_total", events.counters.publish_failures),
                ("counter", "gateway_event_subscribers_dropped_total", events.counters.dropped_subscribers),
                ("gauge", "gateway_event_subscribers", events.subscriber_count),
                ("gauge", "process_resident_memory_bytes", self.process.memory_info().rss),
                ("gauge", "process_start_time_seconds", round(self.started)),
            ]
            lines = [line for kind, name, value in samples for line in (f"# TYPE {name} {kind}", f"{name} {value}")]
            return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")

        return Route("/metrics", metrics)


class _Counted:
    # A class, not a function: Starlette's Route takes a plain function for a request handler.
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.metrics.requests += 1
        await self.app(scope, receive, send)
