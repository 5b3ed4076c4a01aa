"""What an operator sees of each request: a request id (the client's `X-Request-Id` when it is a plain
token, else a new one) echoed in the response and carried by every log line of the request; and, per
GraphQL operation, one log line and the operation metrics (services/metrics.py): name, type, duration,
error codes, user id. Never the document, the variables or a token."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from graphql import GraphQLError
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, StatusCode
from starlette.types import Message, Receive, Scope, Send
from strawberry.types import ExecutionContext

from gateway import logs
from graph.metrics import route_label
from graph.middleware import ScopedMiddleware
from services import metrics, tracing

log = logging.getLogger("gateway.operation")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def request_id_of(scope: Scope) -> str:
    """The client's `X-Request-Id` when it is a plain token, else a new one."""
    given = next((value for name, value in scope.get("headers", ()) if name == b"x-request-id"), b"")
    text = given.decode("latin-1")
    return text if _REQUEST_ID.match(text) else uuid.uuid4().hex


class RequestIds(ScopedMiddleware):
    SCOPES = ("http", "websocket")

    async def wrap(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = request_id_of(scope)
        token = logs.request_id.set(request_id)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            logs.request_id.reset(token)


def error_codes(result: Any) -> list[str]:
    codes = []
    for error in getattr(result, "errors", None) or ():
        extensions = error.extensions if isinstance(error, GraphQLError) else None
        codes.append(metrics.error_label((extensions or {}).get("code") or "GRAPHQL_ERROR"))
    return codes


def name_operation(execution: ExecutionContext) -> str | None:
    """Lines logged while the operation runs (use cases, loaders) carry its name; returns the name to set
    back when it ends (set back rather than reset by token: strawberry may end a hook in another context
    than it began it, where a token reset raises)."""
    previous = logs.operation_name.get()
    logs.operation_name.set(metrics.operation_label(execution.operation_name))
    return previous


class OperationRecord:
    """One log line, the metrics and the span of one operation: begun when it starts, `finish`ed when it
    ends (graph/extensions.py calls both, first in and last out)."""

    __slots__ = ("previous_trace", "previous_user", "span", "started")

    def __init__(self, execution: ExecutionContext) -> None:
        self.started = time.perf_counter()
        viewer = getattr(execution.context, "viewer", None)
        self.previous_user, self.previous_trace = logs.user_id.get(), otel_context.get_current()
        logs.user_id.set(str(viewer.user_id) if viewer is not None else None)
        self.span = tracing.tracer.start_span("graphql.operation")
        otel_context.attach(trace.set_span_in_context(self.span))

    def finish(self, execution: ExecutionContext) -> None:
        otel_context.attach(self.previous_trace)
        elapsed = time.perf_counter() - self.started
        name = metrics.operation_label(execution.operation_name)
        try:
            kind = execution.operation_type.value
        except Exception:  # no operation: the document did not parse or names none
            kind = "unknown"
        codes = error_codes(execution.result)
        metrics.OPERATIONS.labels(name, kind).inc()
        metrics.OPERATION_DURATION.labels(name, kind).observe(elapsed)
        for code in codes:
            metrics.ERRORS.labels(code).inc()
        span = self.span
        if span.is_recording():
            span.update_name(f"graphql {kind} {name}")
            span.set_attribute("graphql.operation.name", name)
            span.set_attribute("graphql.operation.type", kind)
            cost = getattr(execution.context, "cost", None)
            if cost is not None:
                span.set_attribute("graphql.operation.cost", cost)
            if codes:
                span.set_attribute("graphql.error_codes", codes)
                span.set_status(StatusCode.ERROR)
        span.end()
        log.info(
            "graphql operation",
            extra={
                # explicit, so the line carries them whichever handler formats it, and when
                "request_id": logs.request_id.get(),
                "user_id": logs.user_id.get(),
                "operation": name,
                "operation_type": kind,
                "duration_ms": round(elapsed * 1000, 2),
                "error_codes": codes,
            },
        )
        logs.user_id.set(self.previous_user)


class HttpSpans(ScopedMiddleware):
    """A server span per HTTP request, continuing the caller's trace (W3C `traceparent`)."""

    async def wrap(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope.get("headers", ())}
        route = route_label(scope["path"])
        with tracing.tracer.start_as_current_span(
            f"{scope['method']} {route}",
            context=propagate.extract(headers),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": scope["method"], "http.route": route},
        ) as span:

            async def sending(message: Message) -> None:
                if message["type"] == "http.response.start":
                    span.set_attribute("http.response.status_code", message["status"])
                    if message["status"] >= 500:
                        span.set_status(StatusCode.ERROR)
                await send(message)

            await self.app(scope, receive, sending)
