"""Speaking MCP to agents with the official SDK: discovery (initialize + tools/list) and ping on a session
of their own; tool calls go over the pooled sessions of services/mcp_pool.py. All traffic goes through the
egress guard."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from opentelemetry.trace import StatusCode

from services import tracing
from services.credentials import OriginBoundHeaders
from services.egress import EgressPolicy, EgressRefused, guarded_client


class AgentUnreachable(Exception):
    """The agent did not answer as an MCP server (down, refused, timed out, or not MCP)."""


@dataclass(frozen=True)
class Discovery:
    version: str | None
    tools: list[dict[str, Any]]  # AgentCapability documents (camelCase, as stored)


@dataclass(frozen=True)
class ToolOutcome:
    is_error: bool
    structured: Any
    text: str


@dataclass(frozen=True)
class AgentLink:
    endpoint: str
    credentials: OriginBoundHeaders | None  # sent only to the origin they were registered for
    policy: EgressPolicy
    timeout_seconds: float


# What a closed response may still have to read before its connection goes back to the pool (see below).
DRAIN_BYTES = 64 * 1024
DRAIN_SECONDS = 0.5


class DrainedOnClose(httpx2.AsyncByteStream):
    """A response body that, when closed before its end, first reads what is left of it (at most
    `DRAIN_BYTES`, for at most `DRAIN_SECONDS`), so that its connection can carry the next request.

    The SDK's client stops reading a `tools/call` answered as an event stream once the answer's event has
    arrived, and closes the response; the server ends that stream right after, but httpcore closes a
    connection whose response was not read to its end. Without this every call opened a new connection to
    the agent (name resolved and checked by the egress guard, TCP connect, a task group of anyio's): on
    the task bench 404 connections for 401 calls. A body that does not end within the budget is closed
    as before, with its connection."""

    def __init__(self, inner: httpx2.AsyncByteStream) -> None:
        self.inner = inner
        self.ended = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.inner:
            yield chunk
        self.ended = True

    async def aclose(self) -> None:
        try:
            if not self.ended:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(DRAIN_SECONDS):
                        left = DRAIN_BYTES
                        async for chunk in self.inner:
                            left -= len(chunk)
                            if left < 0:
                                break
        finally:
            await self.inner.aclose()


class NoStandaloneStream(httpx2.AsyncBaseTransport):
    """Answers the GET that opens MCP's standalone server-to-client stream with 405 itself, as an agent
    without that stream would: the gateway asks agents for nothing they would send unprompted (answers
    and progress come on each request's own response), and a session kept open would otherwise hold a
    connection at the agent for its whole life. Every other request goes to the guarded transport, and
    its response body is drained when closed early (`DrainedOnClose`)."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "GET":
            return httpx2.Response(405, request=request)
        response = await self.inner.handle_async_request(request)
        if isinstance(response.stream, httpx2.AsyncByteStream):
            response.stream = DrainedOnClose(response.stream)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


@contextlib.asynccontextmanager
async def session_over(link: AgentLink) -> AsyncIterator[tuple[ClientSession, Any]]:
    """An initialized session to the agent, through the egress guard, with its credentials bound to the
    endpoint's origin. Entered and left by one task (the SDK's task groups require it)."""
    async with (
        guarded_client(
            link.policy, timeout=link.timeout_seconds, auth=link.credentials, wrap=NoStandaloneStream
        ) as http,
        streamable_http_client(link.endpoint, http_client=http) as (read, write),
        ClientSession(read, write, read_timeout_seconds=link.timeout_seconds) as session,
    ):
        with anyio.fail_after(link.timeout_seconds):
            initialized = await session.initialize()
        yield session, initialized


async def bounded(link: AgentLink, work: Any, operation: str) -> Any:
    """`work` within the agent's timeout, in a span of its own (the endpoint's host, never its path)."""
    with tracing.span(f"mcp {operation}", **{"mcp.operation": operation, "server.address": _host(link)}) as span:
        try:
            async with asyncio.timeout(link.timeout_seconds + 1):
                return await work()
        except EgressRefused:
            span.set_status(StatusCode.ERROR, "egress refused")
            raise
        except TimeoutError:
            span.set_status(StatusCode.ERROR, "timeout")
            raise AgentUnreachable(f"no answer within {link.timeout_seconds:g} s") from None
        except Exception as error:
            span.set_status(StatusCode.ERROR, type(error).__name__)
            raise AgentUnreachable(_describe(error)) from None


def _host(link: AgentLink) -> str:
    return urlsplit(link.endpoint).hostname or "unknown"


def _describe(error: BaseException) -> str:
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    if isinstance(error, EgressRefused):
        return f"refused destination: {error}"
    return type(error).__name__


async def discover(link: AgentLink) -> Discovery:
    async def work() -> Discovery:
        async with session_over(link) as (session, initialized):
            listed = await session.list_tools()
            tools = [
                {
                    "name": tool.name,
                    "description": tool.description or "",
                    "inputSchema": tool.input_schema,
                    "outputSchema": tool.output_schema,
                    # Hints only where the agent gave some (what the assistant acts on: readOnlyHint).
                    **({"annotations": hints} if (hints := _annotations(tool.annotations)) else {}),
                }
                for tool in listed.tools
            ]
            return Discovery(version=(initialized.server_info.version or None), tools=tools)

    return await bounded(link, work, "discover")  # type: ignore[no-any-return]


def _annotations(annotations: Any) -> dict[str, bool]:
    """The tool's behaviour hints that the gateway acts on (the assistant runs read-only tools without
    asking); hints are the agent's word, and its operator registered the agent."""
    hints: dict[str, bool] = {}
    if annotations is None:
        return hints
    for attribute, key in (
        ("read_only_hint", "readOnlyHint"),
        ("destructive_hint", "destructiveHint"),
        ("idempotent_hint", "idempotentHint"),
    ):
        value = getattr(annotations, attribute, None)
        if isinstance(value, bool):
            hints[key] = value
    return hints


def outcome_of(result: Any) -> ToolOutcome:
    """A `tools/call` result as the gateway keeps it: the error flag, the structured output, the text."""
    text = "\n".join(getattr(part, "text", "") for part in result.content if getattr(part, "text", None))
    return ToolOutcome(is_error=bool(result.is_error), structured=result.structured_content, text=text)


async def ping(link: AgentLink) -> None:
    async def work() -> None:
        async with session_over(link) as (session, _):
            await session.send_ping()

    await bounded(link, work, "ping")
