"""Live attacks on callback subscriptions (issue 14 review), on a real `gateway serve` with a small event
queue: a client that never reads, revocations while its writes are paused, subscribe/complete churn."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets

from tests.chat.raw_socket import RawSocket
from tests.graphql_client import PASSWORD, REGISTER
from tests.live import LiveServer, live_server
from tests.users.flows import LOGOUT
from tests.ws import transport_ws

EVENTS = "subscription($id: ID!) { chatSessionEvents(sessionId: $id) { __typename ... on MessageAdded { message { seq content } } } }"
ADDED = "subscription($id: ID!, $after: String) { messageAdded(sessionId: $id, after: $after) { seq content } }"
CREATE = "mutation($input: CreateChatSessionInput!) { createChatSession(input: $input) { chatSession { id } } }"
SEND = "mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { seq } errors { code } } }"
QUEUE = 10


@pytest.fixture(scope="module")
def gateway(realtime_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {**realtime_env, "GATEWAY_WS_QUEUE_SIZE": str(QUEUE)}
    with live_server(env, log=tmp_path_factory.mktemp("logs") / "attacks.log") as server:
        yield server


class Account:
    def __init__(self, url: str, access: str, refresh: str) -> None:
        self.url, self.access, self.refresh = url, access, refresh

    @classmethod
    async def register(cls, url: str) -> Account:
        email = f"attack-{uuid.uuid4().hex[:10]}@example.com"
        variables = {"input": {"email": email, "password": PASSWORD, "firstName": "A", "lastName": "B"}}
        data = (await call(url, REGISTER, variables))["register"]
        return cls(url, data["accessToken"], data["refreshToken"])

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return await call(self.url, query, variables or {}, self.access)

    async def new_session(self) -> str:
        return str((await self.gql(CREATE, {"input": {"title": "attack"}}))["createChatSession"]["chatSession"]["id"])

    async def send(self, session_id: str, content: str) -> int:
        data = (await self.gql(SEND, {"input": {"sessionId": session_id, "content": content}}))["sendMessage"]
        assert data["errors"] == [], data
        return int(data["message"]["seq"])

    async def logout(self) -> None:
        await self.gql(LOGOUT, {"input": {"refreshToken": self.refresh}})


async def call(url: str, query: str, variables: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(f"{url}/graphql", json={"query": query, "variables": variables}, headers=headers)
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


def metric(server: LiveServer, name: str) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=30).text
    found = re.search(rf"^{name}(?:_total)? ([0-9.e+]+)$", text, re.MULTILINE)
    assert found is not None, name
    return float(found.group(1))


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
        async with transport_ws(gateway.ws_url, victim.access) as watching:
            await attacker.logout()
            await victim.logout()
            code = await asyncio.wait_for(watching.closed, 10)
        assert code == 4401
    finally:
        stalled.close()
