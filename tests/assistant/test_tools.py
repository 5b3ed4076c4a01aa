"""Tools through MCP agents: the agents' tools are offered under their MCP names; a read-only tool runs at
once as a task of the session and its result goes back to the model; any other tool is proposed as an
action, run only by `confirmAction`, and only once however often it is confirmed."""

from __future__ import annotations

import asyncio
import json
import time

from tests.agents.mcp_peer import RunningPeer
from tests.assistant.flows import CONFIRM, EVENTS, final, new_session, send, session_state, until_final
from tests.assistant.provider_peer import RunningProvider
from tests.graphql_client import GraphQLClient
from tests.live import LiveServer
from tests.ws import transport_ws

TASKS = """subscription($sessionId: ID) { taskUpdated(sessionId: $sessionId) { id taskType status } }"""


async def test_a_read_only_tool_runs_as_a_task_of_the_session_and_the_reply_goes_on(
    live: GraphQLClient,
    assistant_gateway: LiveServer,
    tools_agent: str,
    tools_peer: RunningPeer,
    provider: RunningProvider,
) -> None:
    user = await live.register()
    session = await new_session(live, user)
    async with transport_ws(assistant_gateway.ws_url, user.token) as socket:
        await socket.subscribe("events", EVENTS, {"id": session})
        await socket.subscribe("tasks", TASKS, {"sessionId": session})
        await asyncio.sleep(0.3)
        await send(live, user, session, 'Who is Acme? [[tool:lookup_customer {"name": "Acme"}]]')
        events = await until_final(socket, "events")
        updates = []
        while not updates or updates[-1]["status"] not in ("COMPLETED", "FAILED"):
            updates.append((await socket.next_data("tasks"))["taskUpdated"])
    reply = final(events)
    assert reply["role"] == "ASSISTANT"
    assert reply["content"].startswith("Let me check. Done: ")
    assert '"plan": "gold"' in reply["content"] and "Acme" in reply["content"]
    assert reply["content"] == "".join(e["delta"] for e in events if e["__typename"] == "MessageDelta")
    assert reply["metadata"]["actions"] == []
    assert updates[-1]["taskType"] == "lookup_customer" and updates[-1]["status"] == "COMPLETED"
    (task,) = (await session_state(live, user, session))["tasks"]["nodes"]
    assert task["taskType"] == "lookup_customer" and task["outputPayload"]["balance"] == 1200
    offered = {tool["function"]["name"] for tool in provider.state.requests[-2]["tools"]}
    assert {"lookup_customer", "send_invoice"} <= offered


async def test_a_side_effecting_tool_is_proposed_and_runs_once_when_confirmed(
    live: GraphQLClient, assistant_gateway: LiveServer, tools_agent: str, tools_peer: RunningPeer
) -> None:
    user = await live.register()
    session = await new_session(live, user)
    before = tools_peer.state.calls.get("send_invoice", 0)
    async with transport_ws(assistant_gateway.ws_url, user.token) as socket:
        await socket.subscribe("events", EVENTS, {"id": session})
        await asyncio.sleep(0.3)
        await send(live, user, session, 'Bill Acme 300 [[tool:send_invoice {"customer": "Acme", "amount": 300}]]')
        reply = final(await until_final(socket, "events"))
    (action,) = reply["metadata"]["actions"]
    assert action["type"] == "run_task" and action["completed"] is False
    assert action["payload"] == {
        "agentId": tools_agent,
        "taskType": "send_invoice",
        "input": {"customer": "Acme", "amount": 300},
    }
    assert tools_peer.state.calls.get("send_invoice", 0) == before  # proposed, not run

    variables = {"input": {"messageId": reply["id"], "actionIndex": 0}}
    first = (await live.data(CONFIRM, variables, token=user.token))["confirmAction"]
    assert first["errors"] == [], first
    again = (await live.data(CONFIRM, variables, token=user.token))["confirmAction"]
    assert again["errors"] == [] and again["task"]["id"] == first["task"]["id"]
    assert first["message"]["metadata"]["actions"][0]["completed"] is True
    assert first["task"]["taskType"] == "send_invoice"

    deadline = time.monotonic() + 15
    while True:
        tasks = (await session_state(live, user, session))["tasks"]["nodes"]
        if tasks and tasks[0]["status"] in ("COMPLETED", "FAILED"):
            break
        assert time.monotonic() < deadline, tasks
        await asyncio.sleep(0.1)
    assert [task["status"] for task in tasks] == ["COMPLETED"]
    assert tools_peer.state.calls.get("send_invoice", 0) == before + 1
    assert json.dumps(tasks[0]["outputPayload"]).find("invoice of 300 sent to Acme") >= 0

    stranger = await live.register()
    refused = (await live.data(CONFIRM, variables, token=stranger.token))["confirmAction"]
    assert [error["code"] for error in refused["errors"]] == ["NOT_FOUND"]
    wrong = (await live.data(CONFIRM, {"input": {"messageId": reply["id"], "actionIndex": 5}}, token=user.token))[
        "confirmAction"
    ]
    assert [(error["field"], error["code"]) for error in wrong["errors"]] == [("input.actionIndex", "NOT_FOUND")]
