"""What operators read: `/metrics` in the Prometheus format (parsed by prometheus_client's own parser) with
request and operation counts and latencies by operation name, errors by code, sockets, pool and queues; in
production only for the metrics token. And the log line of an operation: JSON with the request id, user id,
operation name and duration, never a token or the document's variables."""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway import logs
from gateway.settings import Settings
from graph.app import create_app
from services.resources import Resources
from tests.graphql_client import GraphQLClient


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_count_operations_by_name_and_errors_by_code(client: GraphQLClient) -> None:
    user = await client.register()
    before = samples((await client.http.get("/metrics")).text)
    for _ in range(3):
        await client.data("query ViewerEmail { viewer { email } }", token=user.token)
    await client.execute('query Broken { node(id: "not-an-id") { id } }', token=user.token)
    scraped = await client.http.get("/metrics")
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
    after = samples(scraped.text)

    ran = "gateway_graphql_operations_total"
    assert (
        value(after, ran, operation_name="ViewerEmail", operation_type="query")
        - value(before, ran, operation_name="ViewerEmail", operation_type="query")
        == 3
    )
    timed = "gateway_graphql_operation_duration_seconds_count"
    assert value(after, timed, operation_name="ViewerEmail", operation_type="query") >= 3
    errors = "gateway_graphql_errors_total"
    assert value(after, errors, code="BAD_USER_INPUT") - value(before, errors, code="BAD_USER_INPUT") >= 1
    http = "gateway_http_requests_total"
    assert value(after, http, route="/graphql", method="POST", status="200") >= 4
    for name in (
        "gateway_websockets_open",
        "gateway_event_subscribers",
        "gateway_db_pool_size",
        "gateway_db_pool_checked_out",
        "gateway_sql_statements_total",
        "gateway_event_publish_failures_total",
        "process_resident_memory_bytes",
    ):
        assert any(key[0] == name for key in after), name
    assert value(after, "gateway_job_queue_depth", queue="maintenance") >= 0


async def test_operation_names_from_clients_cannot_mint_labels(client: GraphQLClient) -> None:
    await client.execute("query Bad { __typename }", headers={})
    odd = "query " + "x" * 80 + " { __typename }"
    await client.execute(odd)
    found = samples((await client.http.get("/metrics")).text)
    names = {dict(labels).get("operation_name") for (name, labels) in found if name.startswith("gateway_graphql_op")}
    assert "x" * 80 not in names and "other" in names


@pytest.fixture
def production(resources: Resources, tmp_path: Any) -> Any:
    def build(**env: str) -> Any:
        settings = Settings(
            GATEWAY_DATA_DIR=str(tmp_path),
            GATEWAY_JWT_PRIVATE_KEYS=resources.settings.jwt_private_keys,
            GATEWAY_ENV="production",
            GATEWAY_SMTP_URL="smtp://127.0.0.1:1",
            **env,
        )
        return create_app(dataclasses.replace(resources, settings=settings))

    return build


async def test_production_metrics_answer_only_to_the_token(production: Any) -> None:
    async with GraphQLClient.over_asgi(production(GATEWAY_METRICS_TOKEN="scrape-secret")) as client:
        assert (await client.http.get("/metrics")).status_code == 404
        wrong = await client.http.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 404
        right = await client.http.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
        assert right.status_code == 200 and "gateway_http_requests_total" in right.text
    async with GraphQLClient.over_asgi(production()) as client:
        assert (await client.http.get("/metrics")).status_code == 404  # no token set: no metrics


async def test_an_operation_log_line_has_its_fields_and_no_secrets(
    client: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    user = await client.register()
    caplog.set_level(logging.INFO, logger="gateway.operation")
    secret = "Correct-Horse-Battery-42"
    response = await client.post(
        "mutation ChangeIt($input: ChangePasswordInput!) { changePassword(input: $input) { errors { code } } }",
        {"input": {"currentPassword": secret, "newPassword": secret + "x"}},
        token=user.token,
        headers={"X-Request-Id": "req-123"},
    )
    assert response.headers["x-request-id"] == "req-123"
    records = [record for record in caplog.records if record.name == "gateway.operation"]
    assert records
    line = json.loads(logs.JsonFormatter().format(records[-1]))
    assert line["request_id"] == "req-123"
    assert line["user_id"] == str(user.pk)
    assert line["operation"] == "ChangeIt"
    assert line["operation_type"] == "mutation"
    assert isinstance(line["duration_ms"], float)
    assert line["level"] == "info" and line["message"] == "graphql operation"
    everything = "\n".join(logs.JsonFormatter().format(record) for record in caplog.records)
    assert secret not in everything and user.token not in everything


async def test_a_request_id_that_is_not_a_plain_token_is_replaced(client: GraphQLClient) -> None:
    response = await client.http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"X-Request-Id": "bad id\nwith newline"}
    )
    assert response.headers["x-request-id"] != "bad id\nwith newline"
    assert len(response.headers["x-request-id"]) == 32
