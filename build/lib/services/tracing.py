"""OpenTelemetry traces: on when the standard `OTEL_*` variables name an OTLP endpoint
(`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, unless `OTEL_SDK_DISABLED=true`),
exported over OTLP/HTTP; off otherwise, when every span below is the API's no-op and costs nothing.

Spans: HTTP requests (graph/tracing.py), GraphQL operations with name, type and cost, SQL statements and
Redis commands (the SQLAlchemy and redis instrumentations), saq jobs (continuing the trace of the request
that enqueued them: the trace context travels in the job's `meta`), and calls to MCP agents.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from sqlalchemy.ext.asyncio import AsyncEngine

tracer = trace.get_tracer("assistant-gateway")
_instrumented_redis = False


def wanted() -> bool:
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def configure(service_name: str) -> bool:
    """Install an SDK tracer provider exporting over OTLP, when the environment asks for it."""
    if not wanted():
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service_name)})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return True


def enabled() -> bool:
    from opentelemetry.sdk.trace import TracerProvider

    return isinstance(trace.get_tracer_provider(), TracerProvider)


def instrument(engine: AsyncEngine) -> None:
    """SQL spans for this engine's statements and Redis spans for every client (once per process)."""
    global _instrumented_redis
    if not enabled():
        return
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # Statements only, never their parameters (the instrumentation does not record them).
    SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine, enable_commenter=False, skip_dep_check=True)
    if not _instrumented_redis:
        RedisInstrumentor().instrument()
        _instrumented_redis = True


def carrier() -> dict[str, str]:
    """The current trace context (W3C traceparent), to travel with a job."""
    found: dict[str, str] = {}
    propagate.inject(found)
    return found


def parent_of(carried: Mapping[str, Any] | None) -> Context:
    return propagate.extract(dict(carried or {}))


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[trace.Span]:
    with tracer.start_as_current_span(name, attributes={k: v for k, v in attributes.items() if v is not None}) as s:
        yield s
