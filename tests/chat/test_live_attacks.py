"""Live attacks on callback subscriptions (issue 14 review), on a real `gateway serve` with a small event
queue: a client that never reads, revocations while its writes are paused, subscribe/complete churn."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.chat.live_client import post
from tests.chat.raw_socket import RawSocket
from tests.graphql_client import PASSWORD, REGISTER
from tests.live import LiveServer, live_server, metric
from tests.users.flows import LOGOUT
from tests.ws import transport_ws

EVENTS = (
    "subscription($id: ID!) { chatSessionEvents(sessionId: $id) "
    "{ __typename ... on MessageAdded { message { seq content } } } }"
)
ADDED = "subscription($id: ID!, $after: String) { messageAdded(sessionId: $id, after: $after) { seq content } }"
CREATE = "mutation($input: CreateChatSessionInput!) { createChatSession(input: $input) { chatSession { id } } }"
SEND = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { seq } errors { code } } }"
QUEUE = 10


@pytest.fixture(scope="module")
def gateway_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs") / "attacks.log"


@pytest.fixture(scope="module")
def gateway(realtime_env: dict[str, str], gateway_log: Path) -> Iterator[LiveServer]:
    env = {**realtime_env, "GATEWAY_WS_QUEUE_SIZE": str(QUEUE)}
    with live_server(env, log=gateway_log) as server:
        yield server


def error_lines(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if '"level": "error"' in line]


class Account:
    def __init__(self, url: str, access: str, refresh: str) -> None:
        self.url, self.access, self.refresh = url, access, refresh

    @classmethod
    async def register(cls, url: str) -> Account:
        email = f"attack-{uuid.uuid4().hex[:10]}@example.com"
        variables = {"input": {"email": email, "password": PASSWORD, "firstName": "A", "lastName": "B"}}
        data = (await post(url, REGISTER, variables))["register"]
        return cls(url, data["accessToken"], data["refreshToken"])

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return await post(self.url, query, variables or {}, token=self.access)

    async def new_session(self) -> str:
        return str((await self.gql(CREATE, {"input": {"title": "attack"}}))["createChatSession"]["chatSession"]["id"])

    async def send(self, session_id: str, content: str) -> int:
        data = (await self.gql(SEND, {"input": {"sessionId": session_id, "content": content}}))["sendMessage"]
        assert data["errors"] == [], data
        return int(data["message"]["seq"])

    async def logout(self) -> None:
        await self.gql(LOGOUT, {"input": {"refreshToken": self.refresh}})


async def until(check: Any, what: str, seconds: float = 30) -> None:
    for _ in range(int(seconds * 10)):
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(what)


async def test_revocations_reach_other_sockets_while_one_socket_is_not_read(gateway: LiveServer) -> None:
    """A signed-in client stops reading its socket while its subscriptions stream: the server's writes to
    it pause. Its sign-in is then revoked, and another user's too: the other user's socket closes with
    4401 at once, not after the stalled socket's keep-alive gives up."""
    attacker, victim = await Account.register(gateway.url), await Account.register(gateway.url)
    session = await attacker.new_session()
    base = metric(gateway, "gateway_event_subscribers")
    stalled = await RawSocket.open(gateway.ws_url)
    try:
        await stalled.init(attacker.access)
        for index in range(5):
            payload = {"query": EVENTS, "variables": {"id": session}}
            await stalled.send({"id": f"s{index}", "type": "subscribe", "payload": payload})
        await until(lambda: metric(gateway, "gateway_event_subscribers") >= base + 5, "subscribed")
        dropped = metric(gateway, "gateway_event_subscribers_dropped")
        big = "x" * 10_000
        # Until the server's writes to it pause, and its subscriptions fall `QUEUE` events behind: then
        # the hub drops them from its fan-out (what waits for them is bounded).
        for _ in range(QUEUE * 40):
            await attacker.send(session, big)
            if metric(gateway, "gateway_event_subscribers_dropped") >= dropped + 5:
                break
        assert metric(gateway, "gateway_event_subscribers_dropped") >= dropped + 5
        # The process still answers everyone else.
        async with httpx.AsyncClient(timeout=30) as http:
            assert (await http.get(f"{gateway.url}/healthz")).status_code == 200
        bystander = await Account.register(gateway.url)
        assert (await bystander.gql("{ viewer { id } }"))["viewer"]["id"]
        async with transport_ws(gateway.ws_url, victim.access) as watching:
            await attacker.logout()
            await victim.logout()
            code = await asyncio.wait_for(watching.closed, 10)
        assert code == 4401
    finally:
        stalled.close()
    # Gone, the stalled socket's subscriptions are unregistered too.
    await until(lambda: metric(gateway, "gateway_event_subscribers") <= base, "released")


@asynccontextmanager
async def legacy_ws(url: str, token: str) -> AsyncIterator[ClientConnection]:
    async with websockets.connect(url, subprotocols=["graphql-ws"]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
        ack = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert ack["type"] == "connection_ack", ack
        yield socket


async def legacy_closed(socket: ClientConnection) -> int | None:
    """Read (and drop) frames until the server closes the socket; its close code."""
    with contextlib.suppress(websockets.ConnectionClosed):
        while True:
            await socket.recv()
    return socket.close_code


async def test_a_revoked_sign_in_stops_its_live_subscriptions_and_unregisters_them(gateway: LiveServer) -> None:
    """Both protocols, live subscriptions of both kinds: the logout closes the sockets with 4401 and the
    process's event hub holds none of their subscriptions afterwards."""
    user = await Account.register(gateway.url)
    session = await user.new_session()
    await user.send(session, "before")
    base = metric(gateway, "gateway_event_subscribers")
    async with transport_ws(gateway.ws_url, user.access) as modern, legacy_ws(gateway.ws_url, user.access) as legacy:
        for index, query in enumerate([EVENTS, ADDED, ADDED]):
            await modern.subscribe(f"m{index}", query, {"id": session})
            start = {"query": query, "variables": {"id": session}}
            await legacy.send(json.dumps({"id": f"l{index}", "type": "start", "payload": start}))
        await until(lambda: metric(gateway, "gateway_event_subscribers") >= base + 6, "subscribed")
        await user.send(session, "live")
        assert (await modern.next_data("m1"))["messageAdded"]["content"] == "live"
        await user.logout()
        assert await asyncio.wait_for(modern.closed, 30) == 4401
        assert await asyncio.wait_for(legacy_closed(legacy), 30) == 4401
    await until(lambda: metric(gateway, "gateway_event_subscribers") <= base, "released")


async def test_subscribe_and_complete_churn_with_reused_and_unknown_ids_leaves_one_clean_stream(
    gateway: LiveServer,
) -> None:
    """A client opens a subscription, completes it once it is live, completes ids that never existed and
    ids already completed, over and over on one id, then subscribes on the reused id once more: that last
    subscription streams every later message once, in order, and the hub holds only it."""
    user = await Account.register(gateway.url)
    session = await user.new_session()
    for index in range(3):
        await user.send(session, f"old {index}")
    base = metric(gateway, "gateway_event_subscribers")
    async with transport_ws(gateway.ws_url, user.access) as socket:
        for round_ in range(15):
            await socket.subscribe("same", ADDED, {"id": session, "after": None})
            await until(lambda: metric(gateway, "gateway_event_subscribers") >= base + 1, "live")
            await socket.stop("same")
            await socket.stop(f"never-{round_}")
            await socket.stop("same")
            await until(lambda: metric(gateway, "gateway_event_subscribers") <= base, "completed")
        await socket.subscribe("same", ADDED, {"id": session})
        await until(lambda: metric(gateway, "gateway_event_subscribers") >= base + 1, "subscribed")
        seqs = [await user.send(session, f"new {index}") for index in range(5)]
        got = []
        while len(got) < len(seqs):
            message = await socket.receive("same")
            if message["type"] == "next":  # a `complete` of an earlier round may still be queued
                got.append(message["payload"]["data"]["messageAdded"]["seq"])
        assert got == seqs
        assert metric(gateway, "gateway_event_subscribers") == base + 1
        assert await socket.nothing_for("same", 0.5)
    await until(lambda: metric(gateway, "gateway_event_subscribers") <= base, "released")


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_closing_the_socket_during_the_after_replay_unregisters_the_subscription(
    gateway: LiveServer, protocol: str
) -> None:
    """The socket goes away while the subscription still replays a long history (several batches):
    nothing stays registered in the hub."""
    user = await Account.register(gateway.url)
    session = await user.new_session()
    first = await user.send(session, "first " + "y" * 5000)
    for index in range(250):
        await user.send(session, f"history {index} " + "y" * 5000)
    cursors = await post(
        gateway.url,
        "query($id: ID!) { node(id: $id) { ... on ChatSession { messages(first: 1) { edges { cursor } } } } }",
        {"id": session},
        token=user.access,
    )
    after = cursors["node"]["messages"]["edges"][0]["cursor"]
    assert first == 1
    base = metric(gateway, "gateway_event_subscribers")
    for _ in range(3):
        stalled = await RawSocket.open(gateway.ws_url, protocol)
        await stalled.init(user.access)
        kind = "subscribe" if protocol == "graphql-transport-ws" else "start"
        await stalled.send(
            {"id": "r", "type": kind, "payload": {"query": ADDED, "variables": {"id": session, "after": after}}}
        )
        await until(lambda: metric(gateway, "gateway_event_subscribers") >= base + 1, "subscribed")
        stalled.close()
        await until(lambda: metric(gateway, "gateway_event_subscribers") <= base, "released")


async def test_bad_documents_duplicate_ids_and_the_limit_on_the_legacy_protocol(
    gateway: LiveServer, gateway_log: Path
) -> None:
    """graphql-ws: invalid documents (syntax errors too) are each answered with an error, hold nothing
    and log no error; a `start` on an id that is live replaces it (one stream, no duplicate frames); live
    subscriptions count against the per-socket limit, and a `stop` frees a place."""
    errors_before = len(error_lines(gateway_log))
    user = await Account.register(gateway.url)
    session = await user.new_session()
    base = metric(gateway, "gateway_event_subscribers")
    async with legacy_ws(gateway.ws_url, user.access) as socket:

        async def start(operation_id: str, query: str, variables: dict[str, Any]) -> None:
            payload = {"query": query, "variables": variables}
            await socket.send(json.dumps({"id": operation_id, "type": "start", "payload": payload}))

        async def frame() -> dict[str, Any]:
            message = json.loads(await asyncio.wait_for(socket.recv(), 10))
            assert isinstance(message, dict)
            return message

        cases: list[tuple[str, dict[str, Any]]] = [
            ("subscription { nope }", {}),
            ("subscription {", {}),
            ("{", {}),
            (ADDED, {"id": 5}),
            (ADDED, {"id": "not-an-id"}),
            (
                "subscription($id: ID!) { messageAdded(sessionId: $id) { seq } "
                "chatSessionEvents(sessionId: $id) { __typename } }",
                {"id": session},
            ),
        ]
        for bad, variables in cases:
            await start("bad", bad, variables)
            answer = await frame()
            assert answer["type"] in {"error", "data"}, answer
            if answer["type"] == "data":
                assert answer["payload"].get("errors"), answer
                assert (await frame())["type"] == "complete"
        assert metric(gateway, "gateway_event_subscribers") == base
        assert error_lines(gateway_log)[errors_before:] == []
        for index in range(5):
            await start(f"live{index}", ADDED, {"id": session})
        await until(lambda: metric(gateway, "gateway_event_subscribers") >= base + 5, "subscribed")
        await start("live0", ADDED, {"id": session})  # the same id again: replaces the first
        await start("sixth", ADDED, {"id": session})
        refused = await frame()
        while refused.get("id") != "sixth":
            refused = await frame()
        assert refused["type"] in {"error", "data"}, refused
        await socket.send(json.dumps({"id": "live4", "type": "stop"}))
        await until(lambda: metric(gateway, "gateway_event_subscribers") == base + 4, "stopped")
        await start("seventh", ADDED, {"id": session})
        await until(lambda: metric(gateway, "gateway_event_subscribers") == base + 5, "a place was freed")
        seq = await user.send(session, "once")
        got: list[str] = []
        while len(got) < 5:
            message = await frame()
            if message["type"] == "data":
                assert message["payload"]["data"]["messageAdded"]["seq"] == seq
                got.append(message["id"])
        assert sorted(got) == ["live0", "live1", "live2", "live3", "seventh"]
        with contextlib.suppress(TimeoutError):
            extra = await asyncio.wait_for(socket.recv(), 0.5)
            raise AssertionError(f"a duplicate frame: {extra!r}")
    await until(lambda: metric(gateway, "gateway_event_subscribers") <= base, "released")


async def test_a_duplicate_id_on_graphql_transport_ws_closes_with_4409_and_releases_everything(
    gateway: LiveServer,
) -> None:
    user = await Account.register(gateway.url)
    session = await user.new_session()
    base = metric(gateway, "gateway_event_subscribers")
    async with transport_ws(gateway.ws_url, user.access) as socket:
        await socket.subscribe("a", ADDED, {"id": session})
        await until(lambda: metric(gateway, "gateway_event_subscribers") >= base + 1, "subscribed")
        await socket.subscribe("a", ADDED, {"id": session})
        assert await asyncio.wait_for(socket.closed, 10) == 4409
    await until(lambda: metric(gateway, "gateway_event_subscribers") <= base, "released")


async def test_a_syntax_error_on_graphql_transport_ws_closes_with_4400_and_its_reason(
    gateway: LiveServer, gateway_log: Path
) -> None:
    """As strawberry answers a syntax error on this protocol (the close reason is the syntax error), not a
    bare `complete` with an error-level traceback in the log; the next socket is served."""
    errors_before = len(error_lines(gateway_log))
    user = await Account.register(gateway.url)
    session = await user.new_session()
    for bad in ["subscription {", "{", "subscription { messageAdded(sessionId: "]:
        async with transport_ws(gateway.ws_url, user.access) as socket:
            await socket.subscribe("bad", bad)
            assert await asyncio.wait_for(socket.closed, 10) == 4400
            assert str(socket.socket.close_reason).startswith("Syntax Error")
    async with transport_ws(gateway.ws_url, user.access) as socket:
        await socket.subscribe("good", ADDED, {"id": session})
        await until(lambda: metric(gateway, "gateway_event_subscribers") >= 1, "subscribed")
        seq = await user.send(session, "still served")
        assert (await socket.next_data("good"))["messageAdded"]["seq"] == seq
    assert error_lines(gateway_log)[errors_before:] == []


async def test_subscriptions_completed_while_they_open_are_not_left_registered(gateway: LiveServer) -> None:
    """`subscribe` and `complete` back to back, on both protocols: no subscription outlives its operation."""
    user = await Account.register(gateway.url)
    session = await user.new_session()
    base = metric(gateway, "gateway_event_subscribers")
    async with transport_ws(gateway.ws_url, user.access) as modern, legacy_ws(gateway.ws_url, user.access) as legacy:
        for _ in range(30):
            await modern.subscribe("same", ADDED, {"id": session, "after": None})
            await modern.stop("same")
            start = {"query": ADDED, "variables": {"id": session}}
            await legacy.send(json.dumps({"id": "same", "type": "start", "payload": start}))
            await legacy.send(json.dumps({"id": "same", "type": "stop"}))
        # Both sockets still open, every operation stopped: nothing registered.
        await until(lambda: metric(gateway, "gateway_event_subscribers") <= base, "released", 20)


async def test_a_query_or_mutation_on_graphql_ws_is_a_typed_refusal_not_an_unexpected_error(
    gateway: LiveServer, gateway_log: Path
) -> None:
    """The legacy protocol carries subscriptions only here: a query or a mutation sent with `start` is
    answered BAD_REQUEST saying where to send it (it was "Unexpected error." and a traceback logged at
    ERROR), and the socket goes on serving subscriptions."""
    errors_before = len(error_lines(gateway_log))
    user = await Account.register(gateway.url)
    session = await user.new_session()
    base = metric(gateway, "gateway_event_subscribers")
    async with legacy_ws(gateway.ws_url, user.access) as socket:

        async def answer_to(operation_id: str, query: str) -> dict[str, Any]:
            await socket.send(json.dumps({"id": operation_id, "type": "start", "payload": {"query": query}}))
            while True:
                message = json.loads(await asyncio.wait_for(socket.recv(), 10))
                if message.get("id") == operation_id and message["type"] in {"data", "error"}:
                    return cast(dict[str, Any], message)

        for operation_id, query in (
            ("q", "{ viewer { id } }"),
            ("m", 'mutation { createChatSession(input: { title: "x" }) { chatSession { id } } }'),
        ):
            answer = await answer_to(operation_id, query)
            errors = answer["payload"]["errors"] if answer["type"] == "data" else [answer["payload"]]
            assert [error["extensions"]["code"] for error in errors] == ["BAD_REQUEST"], answer
            assert "graphql-transport-ws" in errors[0]["message"]
        await socket.send(
            json.dumps({"id": "live", "type": "start", "payload": {"query": ADDED, "variables": {"id": session}}})
        )
        await until(lambda: metric(gateway, "gateway_event_subscribers") >= base + 1, "subscribed")
        seq = await user.send(session, "still served")
        while True:
            message = json.loads(await asyncio.wait_for(socket.recv(), 10))
            if message.get("id") == "live" and message["type"] == "data":
                assert message["payload"]["data"]["messageAdded"]["seq"] == seq
                break
    assert error_lines(gateway_log)[errors_before:] == []
