"""Task history on a live gateway whose worker runs the tasks: `startedAt` keeps the request time beside the run's
`runStartedAt`, the task log records every move and failed attempt, `taskUpdated(taskId)` starts with the current
state, `notifyOnComplete` reaches the user, and `userVisible: false` tasks stay out of the lists."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest

from graph.node import decode_global_id
from tests.agents.flows import CREATE_SESSION, make_operator, register_agent, run_task, wait_for_task, when
from tests.agents.mcp_peer import mcp_peer
from tests.graphql_client import GraphQLClient, SignedUp
from tests.live import LiveServer
from tests.ws import transport_ws

LOG = """query($id: ID!) { node(id: $id) { ... on Task {
  startedAt runStartedAt completedAt processingTimeMs
  log(first: 50) { totalCount edges { node { event status attempt message durationMs loggedAt } } } } } }"""
UPDATED = "subscription($taskId: ID) { taskUpdated(taskId: $taskId) { id status outputPayload } }"
NOTIFICATIONS = """subscription { notifications { kind text at messageId task { id status } } }"""
MESSAGES = """query($id: ID!) { node(id: $id) { ... on ChatSession {
  messages(first: 50) { edges { node { id role content } } } } } }"""
TASKS = "query { viewer { tasks(first: 100) { totalCount edges { node { id } } } } }"
SETTLE = 0.3


@pytest.fixture
async def operator(live: GraphQLClient, live_pg: asyncpg.Connection) -> SignedUp:
    return await make_operator(live_pg, await live.register())


@pytest.fixture
async def owner(live: GraphQLClient) -> SignedUp:
    return await live.register()


async def node(live: GraphQLClient, user: SignedUp, query: str, pk: str) -> dict[str, Any]:
    return (await live.data(query, {"id": pk}, token=user.token))["node"]  # type: ignore[no-any-return]


async def test_started_at_is_the_request_and_the_log_tells_the_run(
    live: GraphQLClient, operator: SignedUp, owner: SignedUp
) -> None:
    async with mcp_peer(fail_first=1) as peer:
        agent = await register_agent(live, operator, peer.url, retries=1)
        task = await run_task(live, owner, agent["id"], "flaky", {"label": "logged"})
        done = await wait_for_task(live, owner, task["id"], {"COMPLETED"})

    history = await node(live, owner, LOG, task["id"])
    assert history["startedAt"] == task["startedAt"]  # asked for then; the claim did not move it
    assert when(history["runStartedAt"]) >= when(history["startedAt"])
    assert when(history["completedAt"]) >= when(history["runStartedAt"])
    lines = [edge["node"] for edge in history["log"]["edges"]]
    assert [(line["event"], line["status"], line["attempt"]) for line in lines] == [
        ("QUEUED", "PENDING", 1),
        ("CLAIMED", "RUNNING", 1),
        ("ATTEMPT_FAILED", "RUNNING", 1),
        ("COMPLETED", "COMPLETED", 2),
    ]
    assert history["log"]["totalCount"] == 4
    assert lines[2]["message"] and lines[2]["durationMs"] is not None  # the failed call: its error and time
    assert lines[3]["durationMs"] == done["processingTimeMs"]
    stamps = [when(line["loggedAt"]) for line in lines]
    assert stamps == sorted(stamps)


async def test_task_updated_starts_with_how_the_task_stands(
    live: GraphQLClient, worker_gateway: LiveServer, operator: SignedUp, owner: SignedUp
) -> None:
    async with mcp_peer() as peer:
        agent = await register_agent(live, operator, peer.url)
        task = await run_task(live, owner, agent["id"], "add", {"a": 2, "b": 3})
        await wait_for_task(live, owner, task["id"], {"COMPLETED"})
    async with transport_ws(worker_gateway.ws_url, owner.token) as socket:
        await socket.subscribe("late", UPDATED, {"taskId": task["id"]})
        first = (await socket.next_data("late", timeout=10))["taskUpdated"]
        assert first == {"id": task["id"], "status": "COMPLETED", "outputPayload": {"total": 5}}
        assert await socket.nothing_for("late", 0.5)


async def test_notify_on_complete_tells_the_user_and_the_session(
    live: GraphQLClient, worker_gateway: LiveServer, operator: SignedUp, owner: SignedUp
) -> None:
    session = (await live.data(CREATE_SESSION, {"input": {"title": "Notify"}}, token=owner.token))["createChatSession"][
        "chatSession"
    ]["id"]
    async with mcp_peer() as peer, transport_ws(worker_gateway.ws_url, owner.token) as socket:
        agent = await register_agent(live, operator, peer.url)
        await socket.subscribe("mine", NOTIFICATIONS)
        await asyncio.sleep(SETTLE)
        quiet = await run_task(live, owner, agent["id"], "add", {"a": 1, "b": 1}, sessionId=session)
        await wait_for_task(live, owner, quiet["id"], {"COMPLETED"})
        loud = await run_task(
            live, owner, agent["id"], "add", {"a": 1, "b": 2}, sessionId=session, notifyOnComplete=True
        )
        notice = (await socket.next_data("mine", timeout=15))["notifications"]
        assert notice["kind"] == "TASK_COMPLETED"
        assert notice["task"] == {"id": loud["id"], "status": "COMPLETED"}
        assert "completed" in notice["text"] and notice["messageId"]
        assert await socket.nothing_for("mine", 0.5)  # the task without notifyOnComplete told no one

    messages = [edge["node"] for edge in (await node(live, owner, MESSAGES, session))["messages"]["edges"]]
    system = [message for message in messages if message["role"] == "SYSTEM"]
    assert [message["id"] for message in system] == [notice["messageId"]]
    assert system[0]["content"] == notice["text"]


async def test_tasks_hidden_from_the_user_stay_out_of_their_lists(
    live: GraphQLClient, live_pg: asyncpg.Connection, operator: SignedUp, owner: SignedUp
) -> None:
    async with mcp_peer() as peer:
        agent = await register_agent(live, operator, peer.url)
        shown = await run_task(live, owner, agent["id"], "add", {"a": 1, "b": 1})
        hidden = await run_task(live, owner, agent["id"], "add", {"a": 1, "b": 2})
        for task in (shown, hidden):
            await wait_for_task(live, owner, task["id"], {"COMPLETED"})
    _, pk = decode_global_id(hidden["id"])
    await live_pg.execute(
        "UPDATE tasks SET metadata = metadata || $2::jsonb WHERE id = $1", pk, json.dumps({"userVisible": False})
    )

    listed = (await live.data(TASKS, token=owner.token))["viewer"]["tasks"]
    assert [edge["node"]["id"] for edge in listed["edges"]] == [shown["id"]]
    assert listed["totalCount"] == 1
    assert (await node(live, owner, LOG, hidden["id"]))["startedAt"] == hidden["startedAt"]  # still readable by id
