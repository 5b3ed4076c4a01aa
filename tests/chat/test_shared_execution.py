"""Subscriptions executed once per event: subscribers that share (document, variables, viewer) share one
execution of each event, counted in /metrics; others execute their own. And an oversized subscription
document is answered with the same typed error as over HTTP. A real gateway process, real sockets."""

from __future__ import annotations

import asyncio
import json

import websockets

from tests.chat.live_client import LiveUser
from tests.live import LiveServer, live_subscribers_at_least, metric
from tests.ws import TransportSocket, transport_ws

ADDED = "subscription($id: ID!, $after: String) { messageAdded(sessionId: $id, after: $after) { id seq content } }"
ADDED_SHORT = "subscription($id: ID!) { messageAdded(sessionId: $id) { seq content } }"


async def received(socket: TransportSocket, operation_ids: list[str]) -> list[dict[str, object]]:
    return [(await socket.next_data(operation_id))["messageAdded"] for operation_id in operation_ids]


async def test_subscribers_sharing_a_selection_share_one_execution_per_event(gateway_a: LiveServer) -> None:
    user = await LiveUser.register(gateway_a.url)
    session = await user.new_session()
    base = metric(gateway_a, "gateway_event_subscribers")
    async with (
        transport_ws(gateway_a.ws_url, user.token) as first,
        transport_ws(gateway_a.ws_url, user.token) as second,
    ):
        for socket in (first, second):
            for n in range(3):
                await socket.subscribe(f"s{n}", ADDED, {"id": session})
        await live_subscribers_at_least(gateway_a, base + 6)
        executions = metric(gateway_a, "gateway_subscription_executions_total")
        shared = metric(gateway_a, "gateway_subscription_results_shared_total")
        sent = await user.send(session, "once for all")
        ids = ["s0", "s1", "s2"]
        answers = await received(first, ids) + await received(second, ids)
        assert metric(gateway_a, "gateway_subscription_executions_total") == executions + 1
        assert metric(gateway_a, "gateway_subscription_results_shared_total") == shared + 5

        await user.send(session, "and again")
        again = await received(first, ids) + await received(second, ids)
        assert metric(gateway_a, "gateway_subscription_executions_total") == executions + 2
    assert answers == [{"id": sent["id"], "seq": 1, "content": "once for all"}] * 6
    assert [answer["seq"] for answer in again] == [2] * 6


async def test_different_documents_or_variables_do_not_share(gateway_a: LiveServer) -> None:
    user = await LiveUser.register(gateway_a.url)
    session = await user.new_session()
    first_message = await user.send(session, "before")
    cursor = (await user.cursors(session))[0][0]
    base = metric(gateway_a, "gateway_event_subscribers")
    async with transport_ws(gateway_a.ws_url, user.token) as socket:
        await socket.subscribe("plain", ADDED, {"id": session})
        await socket.subscribe("plain-too", ADDED, {"id": session})
        await socket.subscribe("after", ADDED, {"id": session, "after": cursor})  # other variables
        await socket.subscribe("short", ADDED_SHORT, {"id": session})  # another document
        await live_subscribers_at_least(gateway_a, base + 4)
        executions = metric(gateway_a, "gateway_subscription_executions_total")
        await user.send(session, "live")
        plain = await received(socket, ["plain", "plain-too", "after"])
        short = (await socket.next_data("short"))["messageAdded"]
        # Three keys: (ADDED, no cursor) twice, (ADDED, cursor), (ADDED_SHORT, no cursor).
        assert metric(gateway_a, "gateway_subscription_executions_total") == executions + 3
    assert first_message["seq"] == 1
    assert [(m["seq"], m["content"]) for m in plain] == [(2, "live")] * 3
    assert short == {"seq": 2, "content": "live"}


async def test_subscribers_of_other_users_never_receive_a_shared_result(gateway_a: LiveServer) -> None:
    owner, other = await LiveUser.register(gateway_a.url), await LiveUser.register(gateway_a.url)
    mine, theirs = await owner.new_session(), await other.new_session()
    base = metric(gateway_a, "gateway_event_subscribers")
    url = gateway_a.ws_url
    async with transport_ws(url, owner.token) as owner_socket, transport_ws(url, other.token) as other_socket:
        await owner_socket.subscribe("mine", ADDED, {"id": mine})
        await other_socket.subscribe("theirs", ADDED, {"id": theirs})
        await other_socket.subscribe("not-theirs", ADDED, {"id": mine})
        refused = await other_socket.receive("not-theirs")
        await live_subscribers_at_least(gateway_a, base + 2)
        await owner.send(mine, "private")
        assert (await owner_socket.next_data("mine"))["messageAdded"]["content"] == "private"
        assert await other_socket.nothing_for("theirs", 0.5)
    assert refused["type"] == "next", refused  # refused when it starts, as before: data null and the error
    assert refused["payload"]["data"] is None
    assert refused["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_an_oversized_subscription_document_is_refused_with_the_http_error(gateway_a: LiveServer) -> None:
    user = await LiveUser.register(gateway_a.url)
    limit = 32 * 1024
    oversized = "subscription { __typename } #" + "x" * limit
    base = metric(gateway_a, "gateway_event_subscribers")
    async with transport_ws(gateway_a.ws_url, user.token) as socket:
        await socket.subscribe("big", oversized)
        refusal = await socket.receive("big")
        session = await user.new_session()
        await socket.subscribe("after-refusal", ADDED, {"id": session})  # the socket is still good
        await live_subscribers_at_least(gateway_a, base + 1)
        await user.send(session, "still here")
        live = (await socket.next_data("after-refusal"))["messageAdded"]
    assert refusal["type"] == "error", refusal
    assert refusal["payload"][0]["extensions"] == {"code": "QUERY_TOO_LARGE", "limit": limit}
    assert live["content"] == "still here"


async def test_legacy_clients_get_the_same_refusal_for_an_oversized_document(gateway_a: LiveServer) -> None:
    user = await LiveUser.register(gateway_a.url)
    limit = 32 * 1024
    async with websockets.connect(gateway_a.ws_url, subprotocols=["graphql-ws"]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {user.token}"}}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        oversized = "subscription { __typename } #" + "x" * limit
        await socket.send(json.dumps({"id": "big", "type": "start", "payload": {"query": oversized}}))
        message = json.loads(await asyncio.wait_for(socket.recv(), 10))
        while message["type"] == "ka":
            message = json.loads(await asyncio.wait_for(socket.recv(), 10))
    assert (message["id"], message["type"]) == ("big", "error"), message
    assert message["payload"]["extensions"] == {"code": "QUERY_TOO_LARGE", "limit": limit}
