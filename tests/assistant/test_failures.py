"""Failure is visible and nothing is lost: every way the provider can fail ends in a SYSTEM message with its
code, the user's message stays, and `regenerateReply` tries again. The daily token budget answers the same
way once spent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from tests.agents.conftest import LiveEnv
from tests.assistant.flows import EVENTS, REGENERATE, final, new_session, send, session_state, until_final
from tests.assistant.provider_peer import RunningProvider
from tests.graphql_client import GraphQLClient
from tests.live import LiveServer
from tests.ws import transport_ws


@pytest.mark.parametrize(
    ("switch", "code"),
    [
        ("[[status:503]]", "PROVIDER_UNAVAILABLE"),
        ("[[status:401]]", "PROVIDER_REFUSED"),
        ("[[slow:3]]", "PROVIDER_TIMEOUT"),
        ("[[broken]]", "MALFORMED_STREAM"),
        ("[[malformed]]", "MALFORMED_STREAM"),
    ],
)
async def test_a_failed_reply_is_a_system_message_and_regenerating_answers(
    live: GraphQLClient, assistant_gateway: LiveServer, switch: str, code: str
) -> None:
    user = await live.register()
    session = await new_session(live, user)
    async with transport_ws(assistant_gateway.ws_url, user.token) as socket:
        await socket.subscribe("events", EVENTS, {"id": session})
        await asyncio.sleep(0.3)
        sent = await send(live, user, session, f"please answer {switch} [[once]]")
        note = final(await until_final(socket, "events"))
        assert note["role"] == "SYSTEM"
        assert note["metadata"]["error"]["code"] == code
        assert note["metadata"]["replyTo"] == sent["id"]
        assert code in note["content"] and "could not answer" in note["content"]
        payload = (await live.data(REGENERATE, {"input": {"messageId": note["id"]}}, token=user.token))[
            "regenerateReply"
        ]
        assert payload["errors"] == [] and payload["message"]["id"] == sent["id"]
        reply = final(await until_final(socket, "events"))
    assert reply["role"] == "ASSISTANT" and reply["metadata"]["replyTo"] == sent["id"]
    stored = [edge["node"] for edge in (await session_state(live, user, session))["messages"]["edges"]]
    assert [message["role"] for message in stored] == ["USER", "SYSTEM", "ASSISTANT"]
    assert stored[0]["id"] == sent["id"]


async def test_regenerating_while_a_reply_is_on_its_way_is_refused(
    live: GraphQLClient, assistant_gateway: LiveServer
) -> None:
    user = await live.register()
    session = await new_session(live, user)
    async with transport_ws(assistant_gateway.ws_url, user.token) as socket:
        await socket.subscribe("events", EVENTS, {"id": session})
        await asyncio.sleep(0.3)
        sent = await send(live, user, session, "take your time [[slow:1]]")
        payload = (await live.data(REGENERATE, {"input": {"messageId": sent["id"]}}, token=user.token))[
            "regenerateReply"
        ]
        assert [error["code"] for error in payload["errors"]] == ["INVALID_STATE"]
        assert final(await until_final(socket, "events"))["role"] == "ASSISTANT"
    stranger = await live.register()
    payload = (await live.data(REGENERATE, {"input": {"messageId": sent["id"]}}, token=stranger.token))[
        "regenerateReply"
    ]
    assert [error["code"] for error in payload["errors"]] == ["NOT_FOUND"]


async def test_a_spent_daily_budget_answers_with_a_system_message(
    live: GraphQLClient, assistant_gateway: LiveServer, assistant_env: LiveEnv, provider: RunningProvider
) -> None:
    user = await live.register()
    session = await new_session(live, user)
    key = f"assistant:tokens:{user.pk}:{datetime.now(UTC).strftime('%Y%m%d')}"
    async with transport_ws(assistant_gateway.ws_url, user.token) as socket:
        await socket.subscribe("events", EVENTS, {"id": session})
        await asyncio.sleep(0.3)
        await send(live, user, session, "a first question")
        assert final(await until_final(socket, "events"))["role"] == "ASSISTANT"
        spent = int(assistant_env.redis.cli("GET", key))
        assert spent > 0  # what the provider reported for that reply was charged
        assistant_env.redis.cli("SET", key, "1000000")
        asked = len(provider.state.requests)
        await send(live, user, session, "a second question")
        note = final(await until_final(socket, "events"))
    assert note["role"] == "SYSTEM" and note["metadata"]["error"]["code"] == "BUDGET_SPENT"
    assert len(provider.state.requests) == asked  # the provider was not asked
