"""Replies streamed into the chat over real sockets (both protocols): the deltas in order, the final
message stored once with its seq and replayed by cursor, metadata, one reply at a time per session."""

from __future__ import annotations

import asyncio

from tests.assistant.conftest import MODEL
from tests.assistant.flows import (
    ADDED,
    ASSISTANT,
    EVENTS,
    deltas,
    final,
    legacy_events,
    legacy_until_final,
    new_session,
    send,
    session_state,
    until_final,
)
from tests.assistant.provider_peer import RunningProvider, answer_words
from tests.graphql_client import GraphQLClient
from tests.live import LiveServer
from tests.ws import transport_ws


async def test_the_assistant_field_names_the_model(live: GraphQLClient) -> None:
    assert (await live.data(ASSISTANT))["assistant"] == {"enabled": True, "model": MODEL}


async def test_a_reply_streams_as_deltas_then_arrives_as_one_stored_message(
    live: GraphQLClient, assistant_gateway: LiveServer, provider: RunningProvider
) -> None:
    user = await live.register()
    session = await new_session(live, user, title="Stream")
    text = "Schedule a meeting with Anna Berg tomorrow about the $1,200 invoice"
    async with transport_ws(assistant_gateway.ws_url, user.token) as socket:
        await socket.subscribe("events", EVENTS, {"id": session})
        await asyncio.sleep(0.3)
        sent = await send(live, user, session, text)
        events = await until_final(socket, "events")
    assert events[0]["__typename"] == "MessageAdded" and events[0]["message"]["role"] == "USER"
    pieces = deltas(events)
    assert [piece["index"] for piece in pieces] == list(range(len(pieces)))
    assert all(piece["replyTo"] == sent["id"] for piece in pieces)
    assert [piece["delta"] for piece in pieces] == answer_words(text)
    reply = final(events)
    assert reply["role"] == "ASSISTANT"
    assert reply["content"] == "".join(piece["delta"] for piece in pieces)
    assert reply["seq"] == sent["seq"] + 1
    metadata = reply["metadata"]
    assert metadata["replyTo"] == sent["id"]
    ai = metadata["aiMetadata"]
    assert ai["model"] == MODEL and ai["temperature"] == 0.3 and ai["intent"] == "schedule_meeting"
    found = {(entity["type"], entity["value"]) for entity in ai["entities"]}
    assert {("contact", "Anna Berg"), ("date", "tomorrow"), ("amount", "$1,200")} <= found
    assert 1 <= len(metadata["suggestions"]) <= 3
    assert reply["tokenCount"] == len(pieces) and reply["processingTimeMs"] >= 0
    # Stored once: the session holds the user's message and one reply, nothing partial.
    stored = await session_state(live, user, session)
    assert [edge["node"]["role"] for edge in stored["messages"]["edges"]] == ["USER", "ASSISTANT"]
    assert stored["messages"]["edges"][1]["node"]["content"] == reply["content"]
    # The provider was asked with the key, for the configured model.
    assert provider.state.requests[-1]["model"] == MODEL


async def test_replay_after_a_cursor_gives_the_reply_like_any_message(
    live: GraphQLClient, assistant_gateway: LiveServer
) -> None:
    user = await live.register()
    session = await new_session(live, user)
    async with transport_ws(assistant_gateway.ws_url, user.token) as socket:
        await socket.subscribe("events", EVENTS, {"id": session})
        await asyncio.sleep(0.3)
        await send(live, user, session, "first question")
        reply = final(await until_final(socket, "events"))
    stored = await session_state(live, user, session)
    cursor = stored["messages"]["edges"][0]["cursor"]
    async with transport_ws(assistant_gateway.ws_url, user.token) as socket:
        await socket.subscribe("replay", ADDED, {"id": session, "after": cursor})
        replayed = (await socket.next_data("replay"))["messageAdded"]
        assert await socket.nothing_for("replay", 0.5)
    assert replayed["id"] == reply["id"] and replayed["content"] == reply["content"]


async def test_replies_of_one_session_come_one_at_a_time_in_order(
    live: GraphQLClient, assistant_gateway: LiveServer
) -> None:
    user = await live.register()
    session = await new_session(live, user)
    async with transport_ws(assistant_gateway.ws_url, user.token) as socket:
        await socket.subscribe("events", EVENTS, {"id": session})
        await asyncio.sleep(0.3)
        sent = [await send(live, user, session, f"question number {n}") for n in range(3)]
        events = []
        for _ in range(3):
            events += await until_final(socket, "events")
    replies = [
        e["message"] for e in events if e["__typename"] == "MessageAdded" and e["message"]["role"] == "ASSISTANT"
    ]
    assert [reply["metadata"]["replyTo"] for reply in replies] == [message["id"] for message in sent]
    assert [reply["seq"] for reply in replies] == sorted(reply["seq"] for reply in replies)
    # The deltas of one reply all come before the next reply's: never interleaved.
    order = [e["replyTo"] for e in events if e["__typename"] == "MessageDelta"]
    assert order == sorted(order, key=[m["id"] for m in sent].index)
    for reply, message in zip(replies, sent, strict=True):
        pieces = [e["delta"] for e in events if e["__typename"] == "MessageDelta" and e["replyTo"] == message["id"]]
        assert reply["content"] == "".join(pieces)


async def test_legacy_graphql_ws_clients_receive_the_stream_too(
    live: GraphQLClient, assistant_gateway: LiveServer
) -> None:
    user = await live.register()
    session = await new_session(live, user)
    socket = await legacy_events(assistant_gateway.ws_url, user.token, session)
    try:
        await asyncio.sleep(0.3)
        sent = await send(live, user, session, "hello from an old phone")
        events = await legacy_until_final(socket)
    finally:
        await socket.close()
    pieces = deltas(events)
    assert pieces and all(piece["replyTo"] == sent["id"] for piece in pieces)
    assert final(events)["content"] == "".join(piece["delta"] for piece in pieces)
