"""Traces with the SDK's in-memory exporter: one nested query makes an HTTP server span, a GraphQL
operation span under it (name, type, cost) and SQL and Redis spans under that; registering an agent makes an
MCP span; a `runTask` carries its trace into the job it enqueues, whose span continues it in the worker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from graph.app import create_app
from jobs.worker import open_job_span, record_job
from services import tracing
from services.resources import Resources
from tests.agents.flows import register_agent, run_task
from tests.agents.mcp_peer import mcp_peer
from tests.graphql_client import GraphQLClient, SignedUp

NESTED = "query Nested { viewer { email chatSessions(first: 5) { edges { node { title messageCount } } } } }"


class Switchable(SpanProcessor):
    """Exports while the module's tests run; the provider stays installed for the process, silent after."""

    def __init__(self, inner: SpanProcessor) -> None:
        self.inner, self.on = inner, True

    def on_end(self, span: ReadableSpan) -> None:
        if self.on:
            self.inner.on_end(span)


@pytest.fixture(scope="module")
def exporter(resources: Resources) -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    switch = Switchable(SimpleSpanProcessor(memory))
    if not tracing.enabled():
        trace.set_tracer_provider(TracerProvider())
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    provider.add_span_processor(switch)
    tracing.instrument(resources.engine)
    try:
        yield memory
    finally:
        switch.on = False
        SQLAlchemyInstrumentor().uninstrument()
        RedisInstrumentor().uninstrument()


@pytest.fixture
async def traced(resources: Resources, exporter: InMemorySpanExporter) -> Iterator[GraphQLClient]:
    async with GraphQLClient.over_asgi(create_app(resources)) as client:
        exporter.clear()
        yield client


def children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    return [span for span in spans if span.parent is not None and span.parent.span_id == parent.context.span_id]


def descendants(spans: list[ReadableSpan], root: ReadableSpan) -> list[ReadableSpan]:
    found, frontier = [], [root]
    while frontier:
        below = [child for span in frontier for child in children(spans, span)]
        found += below
        frontier = below
    return found


async def test_a_nested_query_is_traced_from_http_to_sql(
    traced: GraphQLClient, exporter: InMemorySpanExporter, user: SignedUp
) -> None:
    exporter.clear()
    await traced.data(NESTED, token=user.token)
    spans = list(exporter.get_finished_spans())
    http = [span for span in spans if span.name == "POST /graphql"]
    assert len(http) == 1 and http[0].kind == trace.SpanKind.SERVER
    assert http[0].attributes["http.response.status_code"] == 200
    operations = children(spans, http[0])
    assert [span.name for span in operations] == ["graphql query Nested"]
    operation = operations[0]
    assert operation.attributes["graphql.operation.name"] == "Nested"
    assert operation.attributes["graphql.operation.type"] == "query"
    assert operation.attributes["graphql.operation.cost"] > 0
    below = descendants(spans, operation)
    sql = [span for span in below if span.attributes.get("db.system") == "postgresql"]
    assert sql and all(span.context.trace_id == http[0].context.trace_id for span in sql)
    assert any(span.attributes.get("db.system") == "redis" for span in below)  # the cost budget
    # statements, never their parameters
    assert not any("db.statement.parameters" in (span.attributes or {}) for span in sql)


async def test_the_trace_continues_from_the_caller_and_into_the_job(
    traced: GraphQLClient, exporter: InMemorySpanExporter, operator: SignedUp, resources: Resources
) -> None:
    caller_trace = "0af7651916cd43dd8448eb211c80319c"
    headers = {"traceparent": f"00-{caller_trace}-b7ad6b7169203331-01", "Authorization": f"Bearer {operator.token}"}
    exporter.clear()
    answered = await traced.http.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
    assert answered.status_code == 200
    http = next(span for span in exporter.get_finished_spans() if span.name == "POST /graphql")
    assert format(http.context.trace_id, "032x") == caller_trace

    async with mcp_peer() as peer:
        agent = await register_agent(traced, operator, peer.url)
        discovery = [span for span in exporter.get_finished_spans() if span.name == "mcp discover"]
        assert discovery and discovery[0].attributes["server.address"] == "127.0.0.1"
        exporter.clear()
        task = await run_task(traced, operator, agent["id"], "add", {"a": 1, "b": 2})
    request_trace = next(
        span for span in exporter.get_finished_spans() if span.name == "POST /graphql"
    ).context.trace_id
    from graph.node import decode_global_id

    task_id = decode_global_id(task["id"])[1]
    keys = [key async for key in resources.redis.scan_iter(match=f"*task:{task_id}:*")]
    assert keys, "the task's job is queued"
    queue = next(queue for queue in resources.queues.by_priority.values() if f":{queue.name}:" in keys[0])
    job = queue.deserialize(await resources.redis.get(keys[0]))
    assert job is not None and "traceparent" in job.meta["trace"]

    context: dict[str, object] = {"job": job}
    await open_job_span(context)
    await record_job(context)
    job_span = next(span for span in exporter.get_finished_spans() if span.name.startswith("job "))
    assert job_span.context.trace_id == request_trace


async def test_an_oauth_call_is_a_span_that_says_how_it_failed(exporter: InMemorySpanExporter) -> None:
    from services.egress import EgressPolicy
    from services.oauth.client import ProviderUnavailable, client_credentials
    from tests.live import free_port

    exporter.clear()
    closed = f"http://127.0.0.1:{free_port()}/token"  # nothing listens there: the call fails at once
    with pytest.raises(ProviderUnavailable):
        await client_credentials(closed, EgressPolicy(allow_loopback=True), client_id="agent", client_secret="s3cret")
    (span,) = [span for span in exporter.get_finished_spans() if span.name == "oauth client_credentials"]
    assert span.status.status_code == trace.StatusCode.ERROR
    assert "s3cret" not in str(span.attributes) and "127.0.0.1" not in str(span.attributes)
