"""The worker's pool of MCP sessions (services/mcp_pool.py) against real MCP peers on loopback: calls of one
agent share one initialized session, a restarted peer or a changed link gets a new one, the egress guard
still decides every connection, and closing the pool ends every session."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from services.credentials import OriginBoundHeaders, origin_of
from services.egress import EgressPolicy
from services.mcp import AgentLink, AgentUnreachable
from services.mcp_pool import AgentSessions
from tests.agents.mcp_peer import PeerState, free_port, mcp_peer

LOOPBACK = EgressPolicy(allow_loopback=True)


def link(endpoint: str, *, key: str | None = None, policy: EgressPolicy = LOOPBACK) -> AgentLink:
    credentials = OriginBoundHeaders(origin_of(endpoint), {"x-api-key": key}) if key else None
    return AgentLink(endpoint=endpoint, credentials=credentials, policy=policy, timeout_seconds=5.0)


def sessions_seen(state: PeerState) -> set[str]:
    """The MCP sessions the peer served requests of (each `initialize` answer opens one)."""
    return {headers["mcp-session-id"] for headers in state.headers if "mcp-session-id" in headers}


def initializations(state: PeerState) -> int:
    """Requests that came without a session: the `initialize` of each new session."""
    return sum(1 for headers in state.headers if "mcp-session-id" not in headers)


@pytest.fixture
async def pool() -> AsyncIterator[AgentSessions]:
    sessions = AgentSessions()
    try:
        yield sessions
    finally:
        await sessions.close()


async def test_calls_of_one_agent_share_one_initialized_session(pool: AgentSessions) -> None:
    agent = uuid.uuid4()
    async with mcp_peer() as peer:
        first = await pool.call_tool(agent, link(peer.url), "add", {"a": 1, "b": 2})
        assert first.structured == {"total": 3} and not first.is_error
        outcomes = await asyncio.gather(
            *(pool.call_tool(agent, link(peer.url), "add", {"a": n, "b": 1}) for n in range(12))
        )
        assert [outcome.structured for outcome in outcomes] == [{"total": n + 1} for n in range(12)]
        assert peer.state.calls["add"] == 13
        assert initializations(peer.state) == 1 and len(sessions_seen(peer.state)) == 1
        # A slow call does not hold the others up: they go over the same session meanwhile.
        slow = asyncio.ensure_future(pool.call_tool(agent, link(peer.url), "sleep", {"seconds": 1.0}))
        quick = await pool.call_tool(agent, link(peer.url), "add", {"a": 5, "b": 5})
        assert quick.structured == {"total": 10} and not slow.done()
        assert (await slow).text == "slept 1.0"
        assert initializations(peer.state) == 1


async def test_each_agent_has_a_session_of_its_own(pool: AgentSessions) -> None:
    async with mcp_peer() as peer:
        for agent in (uuid.uuid4(), uuid.uuid4()):
            await pool.call_tool(agent, link(peer.url), "add", {"a": 1, "b": 1})
            await pool.call_tool(agent, link(peer.url), "add", {"a": 1, "b": 1})
        assert initializations(peer.state) == 2 and len(sessions_seen(peer.state)) == 2


async def test_a_restarted_peer_gets_a_new_session_and_the_call_succeeds(pool: AgentSessions) -> None:
    agent, port = uuid.uuid4(), free_port()
    async with mcp_peer(port=port) as before:
        await pool.call_tool(agent, link(before.url), "add", {"a": 1, "b": 1})
        assert initializations(before.state) == 1
    async with mcp_peer(port=port) as after:
        # The pool still holds the old session, which the new process does not know: the call is not lost.
        outcome = await pool.call_tool(agent, link(after.url), "add", {"a": 2, "b": 2})
        assert outcome.structured == {"total": 4}
        assert after.state.calls == {"add": 1}  # sent once to the peer that ran it
        assert initializations(after.state) == 1
        await pool.call_tool(agent, link(after.url), "add", {"a": 3, "b": 3})
        assert initializations(after.state) == 1
        assert len(sessions_seen(after.state) - sessions_seen(before.state)) == 1  # the new session, kept


async def test_a_peer_that_is_down_fails_the_call_with_a_clear_error(pool: AgentSessions) -> None:
    agent, port = uuid.uuid4(), free_port()
    async with mcp_peer(port=port) as peer:
        await pool.call_tool(agent, link(peer.url), "add", {"a": 1, "b": 1})
    with pytest.raises(AgentUnreachable, match="ConnectError"):
        await pool.call_tool(agent, link(peer.url), "add", {"a": 1, "b": 1})
    async with mcp_peer(port=port) as back:
        assert (await pool.call_tool(agent, link(back.url), "add", {"a": 1, "b": 2})).structured == {"total": 3}


async def test_a_changed_endpoint_or_key_gets_a_new_session(pool: AgentSessions) -> None:
    agent = uuid.uuid4()
    async with mcp_peer(api_key="key-one") as first, mcp_peer() as second:
        await pool.call_tool(agent, link(first.url, key="key-one"), "add", {"a": 1, "b": 1})
        await pool.call_tool(agent, link(first.url, key="key-one"), "add", {"a": 1, "b": 1})
        assert initializations(first.state) == 1

        # The operator moved the agent: the next call goes to the new endpoint, on a session of its own,
        # and the old session is closed rather than kept.
        await pool.call_tool(agent, link(second.url), "add", {"a": 1, "b": 1})
        assert initializations(second.state) == 1 and not second.state.saw("key-one")
        assert pool.open_sessions <= 2
        await asyncio.sleep(0.5)
        assert pool.open_sessions == 1

        # A new key for the same endpoint: the old session (authenticated with the old key) is not reused.
        before = len(second.state.headers)
        await pool.call_tool(agent, link(second.url, key="key-two"), "add", {"a": 1, "b": 1})
        fresh = second.state.headers[before:]
        assert sum(1 for headers in fresh if "mcp-session-id" not in headers) == 1
        new = {headers["mcp-session-id"] for headers in fresh if "mcp-session-id" in headers}
        new -= {headers.get("mcp-session-id") for headers in second.state.headers[:before]}
        assert len(new) == 1
        assert all(headers.get("x-api-key") == "key-two" for headers in fresh if headers.get("mcp-session-id") in new)


async def test_the_egress_guard_still_refuses_a_loopback_endpoint(pool: AgentSessions) -> None:
    async with mcp_peer() as peer:
        with pytest.raises(AgentUnreachable, match="refused destination"):
            await pool.call_tool(uuid.uuid4(), link(peer.url, policy=EgressPolicy()), "add", {"a": 1, "b": 1})
        # A name that resolves to loopback is refused as well: the guard resolves at every connection.
        named = peer.url.replace("127.0.0.1", "localhost")
        with pytest.raises(AgentUnreachable, match="refused destination"):
            await pool.call_tool(uuid.uuid4(), link(named, policy=EgressPolicy()), "add", {"a": 1, "b": 1})
        assert peer.state.requests == 0
        assert pool.open_sessions == 0  # nothing is kept of a session that never opened


async def test_closing_the_pool_ends_every_session(pool: AgentSessions) -> None:
    async with mcp_peer() as one, mcp_peer() as two:
        await pool.call_tool(uuid.uuid4(), link(one.url), "add", {"a": 1, "b": 1})
        await pool.call_tool(uuid.uuid4(), link(two.url), "add", {"a": 1, "b": 1})
        assert pool.open_sessions == 2
        await pool.close()
        assert pool.open_sessions == 0
        with pytest.raises(RuntimeError, match="closed"):
            await pool.call_tool(uuid.uuid4(), link(one.url), "add", {"a": 1, "b": 1})
    # Leaving the peers' contexts returned: no session held a connection open at them.


async def test_an_idle_session_is_closed() -> None:
    pool = AgentSessions(idle_seconds=0.2)
    try:
        async with mcp_peer() as peer:
            await pool.call_tool(uuid.uuid4(), link(peer.url), "add", {"a": 1, "b": 1})
            assert pool.open_sessions == 1
            for _ in range(50):
                if pool.open_sessions == 0:
                    break
                await asyncio.sleep(0.1)
            assert pool.open_sessions == 0
    finally:
        await pool.close()


async def test_closing_the_resources_closes_the_pool(settings, database_url: str, redis_url: str) -> None:
    """What the worker does on shutdown (jobs/worker.py closes its resources)."""
    from services.resources import close_resources, open_resources

    resources = await open_resources(settings, database_url=database_url, redis_url=redis_url)
    async with mcp_peer() as peer:
        await resources.agent_sessions.call_tool(uuid.uuid4(), link(peer.url), "add", {"a": 1, "b": 1})
        assert resources.agent_sessions.open_sessions == 1
        await close_resources(resources)
        assert resources.agent_sessions.open_sessions == 0


@contextlib.asynccontextmanager
async def peer_process(port: int) -> AsyncIterator[subprocess.Popen[bytes]]:
    """The tests' MCP peer in a process of its own, so it can die mid-call (SIGKILL)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.agents.mcp_peer", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        async with httpx.AsyncClient(timeout=1) as http:
            for _ in range(300):
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
        yield process
    finally:
        process.kill()
        process.wait(10)


async def test_a_call_lost_with_its_peer_is_not_sent_again_unless_idempotent(pool: AgentSessions) -> None:
    agent, port = uuid.uuid4(), free_port()
    endpoint = f"http://127.0.0.1:{port}/mcp"
    async with peer_process(port) as process:
        await pool.call_tool(agent, link(endpoint), "add", {"a": 1, "b": 1})
        call = asyncio.ensure_future(pool.call_tool(agent, link(endpoint), "sleep", {"seconds": 3}))
        await asyncio.sleep(1.0)  # the call is at the peer
        process.kill()
        # It may have run: the gateway does not send it again (that would find no peer: ConnectError), it
        # reports the connection lost under the call.
        with pytest.raises(AgentUnreachable) as lost:
            await call
        assert "ConnectError" not in str(lost.value), lost.value
    async with peer_process(port) as process:
        idempotent = asyncio.ensure_future(
            pool.call_tool(agent, link(endpoint), "sleep", {"seconds": 3}, idempotent=True)
        )
        await asyncio.sleep(1.0)
        process.kill()
        # An idempotent tool is sent once more, on a new session: here the peer is gone, so that fails.
        with pytest.raises(AgentUnreachable, match="ConnectError"):
            await idempotent
    async with peer_process(port):
        outcome = await pool.call_tool(agent, link(endpoint), "add", {"a": 2, "b": 3})
        assert outcome.structured == {"total": 5}  # the broken session was replaced
