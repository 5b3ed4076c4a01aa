"""One initialized MCP session per agent, shared by every tool call the process makes to it.

A pooled session belongs to a task of its own (`_Pooled.own`), which enters the SDK's context managers (the
guarded HTTP client, the streamable HTTP transport, `ClientSession`), initializes, and holds them open until
it is told to stop: the SDK's anyio task groups are entered and left by that one task. Callers send their
`tools/call` over the session from their own tasks; the SDK's dispatcher correlates concurrent requests by
id and the transport sends each one as a POST of its own, so one session carries any number of calls.

A session is keyed by the agent and by everything its link is made of (endpoint, credentials, egress
policy, timeout): once an operator changes one of them the old session takes no new call and closes
when its last call ends. A session that broke (peer restarted, network error, session expired) is
replaced on the next call. A call that failed on a broken session is sent once more on a new session only
when it provably did not run (the peer answered that it does not know the session, or no connection to
the peer could be opened while the call was the only one on the session) or when the tool is known
idempotent; otherwise the error is the caller's, as without the pool. Sessions unused for
`IDLE_SECONDS` are closed; `close()` closes them all (on the process's shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpcore2
import httpx2
from mcp import ClientSession
from mcp.shared.exceptions import MCPError
from mcp.types import CONNECTION_CLOSED, INVALID_REQUEST

from services.credentials import OriginBoundHeaders
from services.mcp import AgentLink, ToolOutcome, bounded, outcome_of, session_over

IDLE_SECONDS = 120.0  # a session unused this long is closed
REAP_SECONDS = 15.0  # how often idle sessions are looked for
CLOSE_SECONDS = 5.0  # how long closing (the DELETE that ends the session at the agent) may take
# Failures where no connection to the peer could be opened: nothing of a request was sent.
NOT_CONNECTED = (httpx2.ConnectError, httpx2.ConnectTimeout, httpcore2.ConnectError, httpcore2.ConnectTimeout)


class SessionLost(Exception):
    """The session broke while the call was on it and the call may have reached the agent."""


def link_identity(agent_id: uuid.UUID, link: AgentLink) -> tuple[object, ...]:
    """What a session depends on: a change in any of it (a new endpoint, key, policy or timeout) makes a
    new session. Credentials enter as a digest, so the key is not kept in the pool's index."""
    credentials = link.credentials
    secret: tuple[object, ...] = ()
    if isinstance(credentials, OriginBoundHeaders):
        secret = (type(credentials).__name__, credentials.origin, sorted(credentials.headers.items()))
        secret += (getattr(credentials, "reach", None),)
    digest = hashlib.sha256(repr(secret).encode()).hexdigest()
    return agent_id, link.endpoint, digest, link.policy, link.timeout_seconds


def _leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


@dataclass(eq=False)
class _Call:
    shared: bool = False  # another call was on the session at the same time


@dataclass(eq=False)
class _Pooled:
    agent_id: uuid.UUID
    key: tuple[object, ...]
    link: AgentLink
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    session: ClientSession | None = None
    failure: BaseException | None = None
    calls: set[_Call] = field(default_factory=set)
    retired: bool = False
    last_used: float = field(default_factory=time.monotonic)
    task: asyncio.Task[None] | None = None

    def start(self) -> None:
        # A context of its own: the session outlives the call that opened it (and that call's span).
        self.task = asyncio.create_task(self.own(), context=contextvars.Context())

    async def own(self) -> None:
        try:
            async with session_over(self.link) as (session, _):
                self.session = session
                self.ready.set()
                await self.stop.wait()
        except Exception as error:
            self.failure = error
        finally:
            self.session = None
            self.ready.set()

    @property
    def broken(self) -> bool:
        return self.task is None or self.task.done() or self.stop.is_set()

    def enter(self) -> _Call:
        call = _Call()
        self.calls.add(call)
        if len(self.calls) > 1:
            for each in self.calls:
                each.shared = True
        return call

    def leave(self, call: _Call) -> None:
        self.calls.discard(call)
        self.last_used = time.monotonic()
        if self.retired and not self.calls:
            self.stop.set()

    async def closed(self, seconds: float) -> None:
        """Stop, and wait (at most `seconds`) for the owner to leave the session; cancel it after that."""
        self.stop.set()
        if self.task is None:
            return
        done, _ = await asyncio.wait({self.task}, timeout=seconds)
        if not done:
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task


class AgentSessions:
    """The process's pool of MCP sessions, one per agent (see the module's docstring)."""

    def __init__(self, *, idle_seconds: float = IDLE_SECONDS) -> None:
        self.idle_seconds = idle_seconds
        self._current: dict[uuid.UUID, _Pooled] = {}
        self._all: set[_Pooled] = set()
        self._reaper: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def open_sessions(self) -> int:
        """Sessions whose owner still runs (current or closing)."""
        return sum(1 for pooled in self._all if pooled.task is not None and not pooled.task.done())

    def _pooled(self, agent_id: uuid.UUID, link: AgentLink) -> _Pooled:
        if self._closed:
            raise RuntimeError("the agent session pool is closed")
        key = link_identity(agent_id, link)
        pooled = self._current.get(agent_id)
        if pooled is not None and pooled.key == key and not pooled.broken:
            return pooled
        if pooled is not None:
            self._retire(pooled)
        pooled = _Pooled(agent_id=agent_id, key=key, link=link)
        pooled.start()
        self._current[agent_id] = pooled
        self._all.add(pooled)
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.create_task(self._reap(), context=contextvars.Context())
        return pooled

    def _retire(self, pooled: _Pooled) -> None:
        """No new call goes to `pooled`; it closes once its calls have ended."""
        pooled.retired = True
        if not pooled.calls:
            pooled.stop.set()
        if self._current.get(pooled.agent_id) is pooled:
            del self._current[pooled.agent_id]

    async def _session(self, agent_id: uuid.UUID, link: AgentLink) -> _Pooled:
        pooled = self._pooled(agent_id, link)
        await pooled.ready.wait()
        if pooled.session is None:
            self._retire(pooled)
            raise pooled.failure or SessionLost("the session closed while opening")
        return pooled

    async def _lost(self, pooled: _Pooled) -> BaseException | None:
        """Why the session broke (the owner's failure), once it has ended; None if it is still alive."""
        self._retire(pooled)
        if pooled.task is not None:
            await asyncio.wait({pooled.task}, timeout=1.0)
        return pooled.failure

    async def _call_once(
        self, agent_id: uuid.UUID, link: AgentLink, name: str, arguments: dict[str, Any], meta: dict[str, Any] | None
    ) -> Any:
        """The `tools/call` result; raises _Lost when the session broke under the call."""
        pooled = await self._session(agent_id, link)
        session = pooled.session
        if session is None:
            raise _Lost(not_sent=True, cause=SessionLost("the session closed before the call"))
        call = pooled.enter()
        try:
            return await session.call_tool(name, arguments, read_timeout_seconds=link.timeout_seconds, meta=meta)  # type: ignore[arg-type]
        except MCPError as error:
            if error.code == INVALID_REQUEST and "session" in error.message.lower():
                self._retire(pooled)  # the agent does not know the session (restarted, or it expired)
                raise _Lost(not_sent=True, cause=error) from None
            if error.code != CONNECTION_CLOSED:
                raise
            cause = await self._lost(pooled)
            if cause is not None and not call.shared and isinstance(_leaf(cause), NOT_CONNECTED):
                raise _Lost(not_sent=True, cause=cause) from None
            raise _Lost(not_sent=False, cause=cause or error) from None
        finally:
            pooled.leave(call)

    async def call_tool(
        self,
        agent_id: uuid.UUID,
        link: AgentLink,
        name: str,
        arguments: dict[str, Any],
        *,
        meta: dict[str, Any] | None = None,
        idempotent: bool = False,
    ) -> ToolOutcome:
        """Call the tool over the agent's pooled session (see the module's docstring for the retry)."""
        if self._closed:
            raise RuntimeError("the agent session pool is closed")

        async def work() -> ToolOutcome:
            try:
                result = await self._call_once(agent_id, link, name, arguments, meta)
            except _Lost as lost:
                if not (lost.not_sent or idempotent):
                    raise lost.cause from None
                try:
                    result = await self._call_once(agent_id, link, name, arguments, meta)
                except _Lost as again:
                    raise again.cause from None
            return outcome_of(result)

        return await bounded(link, work, "call_tool")  # type: ignore[no-any-return]

    async def _reap(self) -> None:
        while not self._closed:
            await asyncio.sleep(min(REAP_SECONDS, self.idle_seconds))
            now = time.monotonic()
            for pooled in list(self._all):
                if pooled.task is not None and pooled.task.done():
                    self._all.discard(pooled)
                    if self._current.get(pooled.agent_id) is pooled:
                        del self._current[pooled.agent_id]
                elif not pooled.calls and now - pooled.last_used > self.idle_seconds:
                    self._retire(pooled)

    async def close(self) -> None:
        """Close every session (ending each at its agent) and stop the reaper; no call is taken after this."""
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(BaseException):
                await self._reaper
        pooled = list(self._all)
        self._current.clear()
        await asyncio.gather(*(each.closed(CLOSE_SECONDS) for each in pooled), return_exceptions=True)
        self._all.clear()


class _Lost(Exception):
    def __init__(self, *, not_sent: bool, cause: BaseException) -> None:
        super().__init__("session lost")
        self.not_sent = not_sent
        self.cause = cause
