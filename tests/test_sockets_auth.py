"""Socket authentication on a real `gateway serve`: the token travels in `connection_init`; a refused one
closes with 4403 on both protocols; an expired token or a revoked session (logout, logoutEverywhere,
changePassword, deleteAccount, refresh-token theft) closes the open sockets with 4401 at once; a socket
that never initialises is closed with 4408."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from graph.node import decode_global_id
from services.tokens import TokenKeys, generate_key_set, load_key_set
from tests.conftest import create_database, drop_database, signing_keys_json
from tests.graphql_client import PASSWORD, REGISTER
from tests.live import LiveServer, gateway_env, live_server
from tests.users.flows import (
    CHANGE_PASSWORD,
    DELETE_ACCOUNT,
    LOGIN,
    LOGOUT,
    LOGOUT_EVERYWHERE,
    REFRESH,
    sign_in_id,
)

PROTOCOLS = ["graphql-transport-ws", "graphql-ws"]
INIT_TIMEOUT = 1
SOCKETS_PER_ADDRESS = 6


@pytest.fixture(scope="module")
def server_env(
    pg_server_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    database = create_database(pg_server_url, "gateway_sockets")
    env = gateway_env(
        database.replace("+asyncpg", ""),
        redis_url,
        tmp_path_factory.mktemp("sockets"),
        GATEWAY_JWT_PRIVATE_KEYS=signing_keys_json(),
        GATEWAY_WS_INIT_TIMEOUT=str(INIT_TIMEOUT),
        GATEWAY_MAX_SOCKETS_PER_ADDRESS=str(SOCKETS_PER_ADDRESS),
        GATEWAY_TRUSTED_PROXIES="127.0.0.1",
    )
    yield env
    drop_database(pg_server_url, database)


@pytest.fixture(scope="module")
def server(server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(server_env, log=tmp_path_factory.mktemp("logs") / "sockets.log") as running:
        yield running


@pytest.fixture(scope="module")
def server_keys(server_env: dict[str, str]) -> TokenKeys:
    """The key set the server signs with, so a test can mint a token about to expire."""
    return TokenKeys(
        load_key_set(server_env["GATEWAY_JWT_PRIVATE_KEYS"]), issuer="assistant-gateway", ttl_seconds=15 * 60
    )


class Account:
    def __init__(self, server: LiveServer) -> None:
        self.url = f"{server.url}/graphql"
        self.email = f"socket-{uuid.uuid4().hex[:10]}@example.com"
        self.pk = uuid.UUID(int=0)
        self.token = self.refresh_token = ""

    async def call(self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(timeout=30) as http:
            body = (
                await http.post(self.url, json={"query": query, "variables": variables or {}}, headers=headers)
            ).json()
        assert "errors" not in body, body
        (payload,) = body["data"].values()
        return payload

    async def register(self) -> Account:
        payload = await self.call(
            REGISTER, {"input": {"email": self.email, "password": PASSWORD, "firstName": "Sock", "lastName": "Et"}}
        )
        assert payload["errors"] == []
        self.token, self.refresh_token = payload["accessToken"], payload["refreshToken"]
        self.pk = decode_global_id(payload["user"]["id"])[1]  # type: ignore[assignment]
        return self

    async def sign_in(self, password: str = PASSWORD) -> tuple[str, str]:
        payload = await self.call(LOGIN, {"input": {"email": self.email, "password": password}})
        assert payload["errors"] == [], payload["errors"]
        return payload["accessToken"], payload["refreshToken"]


@pytest.fixture
async def account(server: LiveServer) -> Account:
    return await Account(server).register()


async def init(socket: ClientConnection, token: str | None) -> None:
    payload = {"authorization": f"Bearer {token}"} if token is not None else {}
    await socket.send(json.dumps({"type": "connection_init", "payload": payload}))


@asynccontextmanager
async def connected(server: LiveServer, protocol: str, token: str) -> AsyncIterator[ClientConnection]:
    """A socket past `connection_ack`."""
    async with websockets.connect(server.ws_url, subprotocols=[protocol]) as socket:
        await init(socket, token)
        assert json.loads(await asyncio.wait_for(socket.recv(), 5))["type"] == "connection_ack"
        yield socket


async def close_code(socket: ClientConnection, within: float) -> int:
    """Wait for the server to close the socket (skipping keep-alives and errors); its close code."""

    async def wait() -> int:
        while True:
            try:
                await socket.recv()
            except ConnectionClosed as closed:
                assert closed.rcvd is not None, "closed without a close frame"
                return closed.rcvd.code

    return await asyncio.wait_for(wait(), within)


async def still_open(socket: ClientConnection, protocol: str) -> None:
    """The socket still serves its user: an operation answers (graphql-transport-ws), or at least
    nothing closes it (graphql-ws carries subscriptions only)."""
    if protocol == "graphql-transport-ws":
        await socket.send(
            json.dumps({"id": uuid.uuid4().hex, "type": "subscribe", "payload": {"query": "{ viewer { email } }"}})
        )
        message = json.loads(await asyncio.wait_for(socket.recv(), 5))
        assert message["type"] == "next" and message["payload"]["data"]["viewer"]["email"]
        assert json.loads(await asyncio.wait_for(socket.recv(), 5))["type"] == "complete"
    else:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(socket.recv(), 0.5)


# --- refused at the door: 4403 ------------------------------------------------------------------------


def bad_tokens(server_keys: TokenKeys) -> dict[str, str]:
    stranger = TokenKeys(generate_key_set(), issuer="assistant-gateway", ttl_seconds=900)
    user_id = uuid.uuid4()
    return {
        "garbage": "not-a-jwt",
        "foreign-key": stranger.issue(user_id, sign_in_id="s"),
        "expired": server_keys.issue(user_id, sign_in_id="s", now=int(time.time()) - 901),
    }


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("case", ["garbage", "foreign-key", "expired", "not-bearer"])
async def test_a_bad_token_is_refused_with_4403(
    server: LiveServer, server_keys: TokenKeys, protocol: str, case: str
) -> None:
    async with websockets.connect(server.ws_url, subprotocols=[protocol]) as socket:
        if case == "not-bearer":
            await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": "Basic eDp5"}}))
        else:
            await init(socket, bad_tokens(server_keys)[case])
        assert await close_code(socket, 5) == 4403


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("payload", [{}, None, {"authorization": ""}], ids=["empty", "none", "blank"])
async def test_an_init_without_a_token_is_refused_with_4403(
    server: LiveServer, protocol: str, payload: dict[str, str] | None
) -> None:
    """Every subscription needs a user: an anonymous socket is refused at `connection_init`."""
    async with websockets.connect(server.ws_url, subprotocols=[protocol]) as socket:
        message: dict[str, Any] = {"type": "connection_init"}
        if payload is not None:
            message["payload"] = payload
        await socket.send(json.dumps(message))
        assert await close_code(socket, 5) == 4403


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_token_of_an_ended_session_is_refused_with_4403(
    server: LiveServer, account: Account, protocol: str
) -> None:
    assert (await account.call(LOGOUT, {"input": {"refreshToken": account.refresh_token}}))["errors"] == []
    async with websockets.connect(server.ws_url, subprotocols=[protocol]) as socket:
        await init(socket, account.token)  # still unexpired, but its session is over
        assert await close_code(socket, 5) == 4403


# --- closed while open: 4401 ----------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_the_socket_closes_with_4401_when_its_token_expires(
    server: LiveServer, server_keys: TokenKeys, account: Account, protocol: str
) -> None:
    access, _ = await account.sign_in()
    # The server's own key, issued long enough ago that about four seconds remain.
    expires = int(time.time()) + 4
    short = server_keys.issue(account.pk, sign_in_id=sign_in_id(access), now=expires - 15 * 60)
    async with connected(server, protocol, short) as socket:
        assert await close_code(socket, 10) == 4401
        assert time.time() >= expires - 0.1  # not at once: when the token runs out


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_logout_closes_that_sessions_sockets_within_a_second(
    server: LiveServer, account: Account, protocol: str
) -> None:
    other_access, _ = await account.sign_in()
    async with (
        connected(server, protocol, account.token) as ending,
        connected(server, protocol, other_access) as staying,
    ):
        await asyncio.sleep(3)  # sockets idle a while before the user logs out
        assert (await account.call(LOGOUT, {"input": {"refreshToken": account.refresh_token}}))["errors"] == []
        assert await close_code(ending, 1.0) == 4401
        await still_open(staying, protocol)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_logout_everywhere_closes_every_socket_of_the_user(
    server: LiveServer, account: Account, protocol: str
) -> None:
    second_access, _ = await account.sign_in()
    bystander = await Account(server).register()
    async with (
        connected(server, protocol, account.token) as first,
        connected(server, protocol, second_access) as second,
        connected(server, protocol, bystander.token) as other_user,
    ):
        answer = await account.call(LOGOUT_EVERYWHERE, token=account.token)
        assert answer["errors"] == [] and answer["revokedSessions"] == 2
        assert await close_code(first, 1.0) == 4401
        assert await close_code(second, 1.0) == 4401
        await still_open(other_user, protocol)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_change_password_closes_the_other_sessions_sockets(
    server: LiveServer, account: Account, protocol: str
) -> None:
    other_access, _ = await account.sign_in()
    async with (
        connected(server, protocol, account.token) as current,
        connected(server, protocol, other_access) as other,
    ):
        answer = await account.call(
            CHANGE_PASSWORD,
            {"input": {"currentPassword": PASSWORD, "newPassword": "Changed-Pass-9"}},
            token=account.token,
        )
        assert answer["errors"] == []
        assert await close_code(other, 1.0) == 4401
        await still_open(current, protocol)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_delete_account_closes_its_sockets(server: LiveServer, account: Account, protocol: str) -> None:
    async with connected(server, protocol, account.token) as socket:
        answer = await account.call(DELETE_ACCOUNT, {"input": {"password": PASSWORD}}, token=account.token)
        assert answer["errors"] == []
        assert await close_code(socket, 1.0) == 4401


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_replayed_refresh_token_closes_the_sessions_sockets(
    server: LiveServer, account: Account, protocol: str
) -> None:
    rotated = await account.call(REFRESH, {"input": {"refreshToken": account.refresh_token}})
    async with connected(server, protocol, rotated["accessToken"]) as socket:
        replay = await account.call(REFRESH, {"input": {"refreshToken": account.refresh_token}})
        assert [error["code"] for error in replay["errors"]] == ["UNAUTHENTICATED"]
        assert await close_code(socket, 1.0) == 4401


async def test_revocations_reach_sockets_after_quiet_spells(server: LiveServer, account: Account) -> None:
    """The process listens for revocations on one Redis subscription; it must keep listening through
    idle time, not only while revocations keep coming."""
    sessions = [await account.sign_in() for _ in range(3)]
    async with (
        connected(server, "graphql-transport-ws", sessions[0][0]) as first,
        connected(server, "graphql-transport-ws", sessions[1][0]) as second,
        connected(server, "graphql-transport-ws", sessions[2][0]) as third,
    ):
        for (_, refresh_token), socket, quiet in zip(sessions, (first, second, third), (0, 2.4, 4.5), strict=True):
            await asyncio.sleep(quiet)
            assert (await account.call(LOGOUT, {"input": {"refreshToken": refresh_token}}))["errors"] == []
            assert await close_code(socket, 1.0) == 4401, f"after {quiet}s of quiet"


# --- sockets per client address ---------------------------------------------------------------------------


async def test_open_sockets_are_capped_per_client_address(server: LiveServer) -> None:
    """`GATEWAY_MAX_SOCKETS_PER_ADDRESS` counts open sockets, initialised or not, per client address
    (from X-Forwarded-For, since the test client is a trusted proxy here); others are not affected."""

    def from_address(address: str) -> Any:
        return websockets.connect(
            server.ws_url, subprotocols=["graphql-transport-ws"], additional_headers={"X-Forwarded-For": address}
        )

    crowd = [await from_address("198.51.100.1").__aenter__() for _ in range(SOCKETS_PER_ADDRESS)]
    try:
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with from_address("198.51.100.1"):
                pass
        assert refused.value.response.status_code == 403
        async with from_address("198.51.100.2") as other:  # another address still connects
            await other.send(json.dumps({"type": "connection_init", "payload": {}}))
            assert await close_code(other, 5) == 4403
        await crowd.pop().close()
        await asyncio.sleep(0.2)
        async with from_address("198.51.100.1"):  # a slot was given back
            pass
    finally:
        for socket in crowd:
            await socket.close()


async def test_a_message_flood_closes_the_socket_with_4429(server: LiveServer) -> None:
    """Pings need no sign-in and each is answered: a flood of them is cut off, not served for ever."""
    async with websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as socket:
        with contextlib.suppress(ConnectionClosed):
            for _ in range(1000):
                await socket.send(json.dumps({"type": "ping"}))
        assert await close_code(socket, 5) == 4429
    async with websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as calm:
        for _ in range(20):  # an ordinary client's pace is untouched
            await calm.send(json.dumps({"type": "ping"}))
            assert json.loads(await asyncio.wait_for(calm.recv(), 5))["type"] == "pong"


# --- never initialised: 4408 ------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_socket_that_never_initialises_is_closed_with_4408(server: LiveServer, protocol: str) -> None:
    async with websockets.connect(server.ws_url, subprotocols=[protocol]) as socket:
        started = time.monotonic()
        assert await close_code(socket, INIT_TIMEOUT + 4) == 4408
        assert time.monotonic() - started >= INIT_TIMEOUT - 0.2


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_an_initialised_socket_outlives_the_init_timeout(
    server: LiveServer, account: Account, protocol: str
) -> None:
    async with connected(server, protocol, account.token) as socket:
        await asyncio.sleep(INIT_TIMEOUT + 0.5)
        await still_open(socket, protocol)
