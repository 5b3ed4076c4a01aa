"""`taskUpdated` on a live gateway whose worker runs the tasks: every status change streams through the
Redis fan-out, filtered by task or chat session, and only to the task's owner."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest

from graph.node import global_id
from tests.agents.flows import (
    CREATE_SESSION,
    RETRY_TASK,
    assert_forward,
    make_operator,
    register_agent,
    run_task,
    wait_for_task,
)
from tests.agents.mcp_peer import mcp_peer
from tests.graphql_client import GraphQLClient, SignedUp
from tests.live import LiveServer
from tests.ws import TransportSocket, transport_ws

UPDATED = """subscription($taskId: ID, $sessionId: ID) {
  taskUpdated(taskId: $taskId, sessionId: $sessionId) { id status retryCount outputPayload errorMessage } }"""
SETTLE = 0.3  # the gateway subscribes to Redis when the operation starts


@pytest.fixture
async def operator(live: GraphQLClient, live_pg: asyncpg.Connection) -> SignedUp:
    return await make_operator(live_pg, await live.register())


@pytest.fixture
async def owner(live: GraphQLClient) -> SignedUp:
    return await live.register()


async def statuses(socket: TransportSocket, operation: str, count: int) -> list[dict[str, Any]]:
    return [(await socket.next_data(operation, timeout=10))["taskUpdated"] for _ in range(count)]


async def until_finished(socket: TransportSocket, operation: str) -> list[dict[str, Any]]:
    events = []
    while not events or events[-1]["status"] not in ("COMPLETED", "FAILED", "CANCELLED"):
        events.append((await socket.next_data(operation, timeout=10))["taskUpdated"])
    return events


def error_code(message: dict[str, Any]) -> str:
    errors = message["payload"] if message["type"] == "error" else message["payload"].get("errors")
    assert errors, message
    return str(errors[0]["extensions"]["code"])


async def new_session(live: GraphQLClient, user: SignedUp) -> str:
    data = await live.data(CREATE_SESSION, {"input": {"title": "Tasks"}}, token=user.token)
    return str(data["createChatSession"]["chatSession"]["id"])


async def test_a_tasks_status_changes_stream_live(
    live: GraphQLClient, worker_gateway: LiveServer, operator: SignedUp, owner: SignedUp
) -> None:
    async with mcp_peer(fail_first=1) as peer:
        agent = await register_agent(live, operator, peer.url, retries=0)
        task = await run_task(live, owner, agent["id"], "flaky", {"label": "live"})
        await wait_for_task(live, owner, task["id"], {"FAILED"})

        async with transport_ws(worker_gateway.ws_url, owner.token) as socket:
            await socket.subscribe("one", UPDATED, {"taskId": task["id"]})
            # First how it stands: a client that subscribes late still learns the task ended.
            assert (await statuses(socket, "one", 1))[0]["status"] == "FAILED"
            retried = await live.data(RETRY_TASK, {"input": {"taskId": task["id"]}}, token=owner.token)
            assert retried["retryTask"]["errors"] == []
            events = await until_finished(socket, "one")
            # Each message is the task as stored when it is sent: forward only, no repeats (a state that
            # passed between two messages may be folded into the next).
            sequence = [event["status"] for event in events]
            assert sequence[-1] == "COMPLETED" and len(set(sequence)) == len(sequence)
            assert_forward(sequence)
            assert {event["id"] for event in events} == {task["id"]}
            assert events[-1]["outputPayload"] == {"result": "ok live"} and events[-1]["errorMessage"] is None
            assert await socket.nothing_for("one", 0.5)

    # Retries happen inside `running`: the stream never shows the task going back to pending.
    async with mcp_peer(fail_first=2) as peer:
        agent = await register_agent(live, operator, peer.url, retries=2)
        session = await new_session(live, owner)
        async with transport_ws(worker_gateway.ws_url, owner.token) as socket:
            await socket.subscribe("session", UPDATED, {"sessionId": session})
            await asyncio.sleep(SETTLE)
            task = await run_task(live, owner, agent["id"], "flaky", {"label": "twice"}, sessionId=session)
            events = await statuses(socket, "session", 3)
            assert [(event["id"], event["status"]) for event in events] == [
                (task["id"], "PENDING"),
                (task["id"], "RUNNING"),
                (task["id"], "COMPLETED"),
            ]
            assert events[-1]["retryCount"] == 2 and peer.state.calls["flaky"] == 3
            assert await socket.nothing_for("session", 0.5)


async def test_updates_filter_by_session_and_reach_only_the_owner(
    live: GraphQLClient, worker_gateway: LiveServer, operator: SignedUp, owner: SignedUp
) -> None:
    stranger = await live.register()
    async with mcp_peer() as peer:
        agent = await register_agent(live, operator, peer.url)
        watched, other = await new_session(live, owner), await new_session(live, owner)
        async with (
            transport_ws(worker_gateway.ws_url, owner.token) as socket,
            transport_ws(worker_gateway.ws_url, stranger.token) as spy,
        ):
            await socket.subscribe("session", UPDATED, {"sessionId": watched})
            await socket.subscribe("all", UPDATED, {})
            await spy.subscribe("theirs", UPDATED, {"sessionId": watched})
            await spy.subscribe("all", UPDATED, {})
            await asyncio.sleep(SETTLE)

            elsewhere = await run_task(live, owner, agent["id"], "add", {"a": 1, "b": 1}, sessionId=other)
            loose = await run_task(live, owner, agent["id"], "add", {"a": 2, "b": 2})
            here = await run_task(live, owner, agent["id"], "add", {"a": 3, "b": 3}, sessionId=watched)
            for task in (elsewhere, loose, here):
                await wait_for_task(live, owner, task["id"], {"COMPLETED"})

            events = await statuses(socket, "session", 3)
            assert [(event["id"], event["status"]) for event in events] == [
                (here["id"], "PENDING"),
                (here["id"], "RUNNING"),
                (here["id"], "COMPLETED"),
            ]
            assert events[-1]["outputPayload"] == {"total": 6}
            assert await socket.nothing_for("session", 0.5)

            everything = await statuses(socket, "all", 9)
            by_task: dict[str, list[str]] = {}
            for event in everything:
                by_task.setdefault(event["id"], []).append(event["status"])
            assert set(by_task) == {elsewhere["id"], loose["id"], here["id"]}
            for sequence in by_task.values():
                assert sequence == ["PENDING", "RUNNING", "COMPLETED"]
                assert_forward(sequence)

            # Another user hears nothing of them, not even through the owner's session id.
            assert await spy.nothing_for("theirs", 0.3)
            assert await spy.nothing_for("all", 0.1)


async def test_another_users_task_is_not_found(
    live: GraphQLClient, worker_gateway: LiveServer, operator: SignedUp, owner: SignedUp
) -> None:
    stranger = await live.register()
    async with mcp_peer() as peer:
        agent = await register_agent(live, operator, peer.url)
        task = await run_task(live, owner, agent["id"], "add", {"a": 1, "b": 1})
        await wait_for_task(live, owner, task["id"], {"COMPLETED"})
    async with transport_ws(worker_gateway.ws_url, stranger.token) as socket:
        await socket.subscribe("theirs", UPDATED, {"taskId": task["id"]})
        assert error_code(await socket.receive("theirs")) == "NOT_FOUND"
        await socket.subscribe("missing", UPDATED, {"taskId": global_id("Task", uuid.uuid4())})
        assert error_code(await socket.receive("missing")) == "NOT_FOUND"
    # An anonymous socket is refused at connection_init (tests/test_sockets_auth.py), so it never
    # reaches taskUpdated.
