"""messageAdded and chatSessionEvents on a real gateway process, over real WebSockets."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from tests.chat.live_client import LiveUser
from tests.live import LiveServer
from tests.ws import transport_ws

ADDED = "subscription($id: ID!, $after: String) { messageAdded(sessionId: $id, after: $after) { id seq content } }"
EVENTS = """subscription($id: ID!) { chatSessionEvents(sessionId: $id) {
  __typename ... on MessageAdded { message { seq content } }
  ... on MessageEdited { message { seq content editedAt } }
  ... on MessageDeleted { message { seq } } } }"""
EDIT = """mutation($input: EditMessageInput!) { editMessage(input: $input) { errors { code } } }"""
DELETE = """mutation($input: DeleteMessageInput!) { deleteMessage(input: $input) { errors { code } } }"""


async def test_live_messages_arrive_in_order(gateway_a: LiveServer) -> None:
    user = await LiveUser.register(gateway_a.url)
    session = await user.new_session()
    async with transport_ws(gateway_a.ws_url, user.token) as socket:
        await socket.subscribe("live", ADDED, {"id": session})
        await asyncio.sleep(0.3)  # the subscription is set up before the first send
        for number in range(1, 4):
            await user.send(session, f"hello {number}")
        received = [(await socket.next_data("live"))["messageAdded"] for _ in range(3)]
    assert [(m["seq"], m["content"]) for m in received] == [(1, "hello 1"), (2, "hello 2"), (3, "hello 3")]


async def test_after_a_cursor_replays_then_streams_live_without_gap_or_duplicate(gateway_a: LiveServer) -> None:
    user = await LiveUser.register(gateway_a.url)
    session = await user.new_session()
    for number in range(1, 6):
        await user.send(session, f"before {number}")
    cursor_of_two = dict((seq, cursor) for cursor, seq in await user.cursors(session))[2]
    async with transport_ws(gateway_a.ws_url, user.token) as socket:
        await socket.subscribe("replay", ADDED, {"id": session, "after": cursor_of_two})
        replayed = [(await socket.next_data("replay"))["messageAdded"]["seq"] for _ in range(3)]
        await user.send(session, "live 6")
        live = (await socket.next_data("replay"))["messageAdded"]
        assert await socket.nothing_for("replay", 0.5)
    assert replayed == [3, 4, 5]
    assert (live["seq"], live["content"]) == (6, "live 6")


async def test_sends_racing_a_resubscription_lose_nothing_and_repeat_nothing(gateway_a: LiveServer) -> None:
    user = await LiveUser.register(gateway_a.url)
    session = await user.new_session()
    await user.send(session, "first")
    cursor = (await user.cursors(session))[0][0]

    async def sender() -> None:
        await asyncio.gather(*(user.send(session, f"racing {n}") for n in range(30)))

    async with transport_ws(gateway_a.ws_url, user.token) as socket:
        sending = asyncio.create_task(sender())
        await asyncio.sleep(0.05)  # subscribe while the sends are landing
        await socket.subscribe("race", ADDED, {"id": session, "after": cursor})
        seqs = [(await socket.next_data("race", timeout=20))["messageAdded"]["seq"] for _ in range(30)]
        await sending
        assert await socket.nothing_for("race", 0.5)
    assert seqs == list(range(2, 32))


async def test_someone_elses_session_is_refused_as_if_it_did_not_exist(gateway_a: LiveServer) -> None:
    owner, other = await LiveUser.register(gateway_a.url), await LiveUser.register(gateway_a.url)
    session = await owner.new_session()
    async with transport_ws(gateway_a.ws_url, other.token) as socket:
        await socket.subscribe("theirs", ADDED, {"id": session})
        refused = await socket.receive("theirs")
        missing = "Q2hhdFNlc3Npb246MDAwMDAwMDAtMDAwMC00MDAwLTgwMDAtMDAwMDAwMDAwMDAw"
        await socket.subscribe("missing", ADDED, {"id": missing})
        missing = await socket.receive("missing")
    assert refused["type"] == missing["type"] == "error" or (refused["type"] == "next" and refused["payload"]["errors"])
    errors = refused["payload"] if isinstance(refused["payload"], list) else refused["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "NOT_FOUND"
    other_errors = missing["payload"] if isinstance(missing["payload"], list) else missing["payload"]["errors"]
    assert errors[0]["message"] == other_errors[0]["message"]


async def test_anonymous_sockets_cannot_subscribe(gateway_a: LiveServer) -> None:
    """Refused at `connection_init` (4403), before any subscription can be started."""
    async with websockets.connect(gateway_a.ws_url, subprotocols=["graphql-transport-ws"]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(socket.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_session_events_stream_added_edited_and_deleted(gateway_a: LiveServer) -> None:
    user = await LiveUser.register(gateway_a.url)
    session = await user.new_session()
    async with transport_ws(gateway_a.ws_url, user.token) as socket:
        await socket.subscribe("events", EVENTS, {"id": session})
        await asyncio.sleep(0.3)
        message = await user.send(session, "draft")
        await user.gql(EDIT, {"input": {"messageId": message["id"], "content": "final"}})
        await user.gql(DELETE, {"input": {"messageId": message["id"]}})
        events = [(await socket.next_data("events"))["chatSessionEvents"] for _ in range(3)]
    assert [event["__typename"] for event in events] == ["MessageAdded", "MessageEdited", "MessageDeleted"]
    assert events[0]["message"]["content"] == "draft"
    assert events[1]["message"]["content"] == "final" and events[1]["message"]["editedAt"]
    assert events[2]["message"]["seq"] == 1


async def test_legacy_graphql_ws_clients_receive_messages_too(gateway_a: LiveServer) -> None:
    user = await LiveUser.register(gateway_a.url)
    session = await user.new_session()
    async with websockets.connect(gateway_a.ws_url, subprotocols=["graphql-ws"]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {user.token}"}}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        await socket.send(
            json.dumps({"id": "1", "type": "start", "payload": {"query": ADDED, "variables": {"id": session}}})
        )
        await asyncio.sleep(0.3)
        await user.send(session, "to an old client")
        message = json.loads(await asyncio.wait_for(socket.recv(), 10))
        while message["type"] == "ka":
            message = json.loads(await asyncio.wait_for(socket.recv(), 10))
    assert message["type"] == "data"
    assert message["payload"]["data"]["messageAdded"]["content"] == "to an old client"


async def test_a_message_sent_through_one_process_reaches_a_subscriber_on_another(
    gateway_a: LiveServer, gateway_b: LiveServer
) -> None:
    user = await LiveUser.register(gateway_a.url)
    session = await user.new_session()
    async with transport_ws(gateway_a.ws_url, user.token) as on_a, transport_ws(gateway_b.ws_url, user.token) as on_b:
        await on_a.subscribe("a", ADDED, {"id": session})
        await on_b.subscribe("b", ADDED, {"id": session})
        await asyncio.sleep(0.3)
        await user.send(session, "via b", url=gateway_b.url)
        await user.send(session, "via a", url=gateway_a.url)
        seen_on_a = [(await on_a.next_data("a"))["messageAdded"]["content"] for _ in range(2)]
        seen_on_b = [(await on_b.next_data("b"))["messageAdded"]["content"] for _ in range(2)]
    assert seen_on_a == seen_on_b == ["via b", "via a"]


async def test_subscriptions_per_connection_are_capped(gateway_a: LiveServer) -> None:
    user = await LiveUser.register(gateway_a.url)
    session = await user.new_session()
    async with transport_ws(gateway_a.ws_url, user.token) as socket:
        for number in range(5):  # GATEWAY_WS_MAX_SUBSCRIPTIONS=5 for these servers
            await socket.subscribe(f"s{number}", ADDED, {"id": session})
        await asyncio.sleep(0.3)
        await socket.subscribe("one-too-many", ADDED, {"id": session})
        refused = await socket.receive("one-too-many")
    assert refused["type"] == "error"
    assert "limit" in refused["payload"][0]["message"].lower()


async def test_connections_per_user_are_capped(gateway_a: LiveServer) -> None:
    user = await LiveUser.register(gateway_a.url)
    async with (
        transport_ws(gateway_a.ws_url, user.token),
        transport_ws(gateway_a.ws_url, user.token),
        transport_ws(gateway_a.ws_url, user.token),
    ):
        async with websockets.connect(gateway_a.ws_url, subprotocols=["graphql-transport-ws"]) as fourth:
            await fourth.send(
                json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {user.token}"}})
            )
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(fourth.recv(), 10)
        assert fourth.close_code == 4403


async def test_oversized_socket_messages_close_the_socket(gateway_a: LiveServer) -> None:
    user = await LiveUser.register(gateway_a.url)
    async with transport_ws(gateway_a.ws_url, user.token, max_size=None) as socket:
        await socket.socket.send(
            json.dumps({"id": "big", "type": "subscribe", "payload": {"query": "#" + "x" * (2 << 20)}})
        )
        code = await asyncio.wait_for(socket.closed, 10)
    assert code == 1009
