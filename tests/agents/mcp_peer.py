"""Real MCP servers for the tests, built with the official SDK and served over streamable HTTP on
loopback. Run as a module to serve one in its own process:
    python -m tests.agents.mcp_peer PORT [API_KEY]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import Tool as MCPTool
from mcp.types import ToolAnnotations
from pydantic import BaseModel
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Sum(BaseModel):
    total: int


@dataclass
class PeerState:
    calls: dict[str, int] = field(default_factory=dict)
    fail_first: int = 2
    requests: int = 0  # every HTTP request that reached the peer (MCP or health)
    headers: list[dict[str, str]] = field(default_factory=list)  # each request's headers, in order
    hold: set[str] = field(default_factory=set)  # JSON-RPC methods the peer sits on (a hanging agent)
    hold_seconds: float = 10.0  # how long it sits on them at most
    held: asyncio.Event = field(default_factory=asyncio.Event)  # set once a held request has arrived
    release: asyncio.Event = field(default_factory=asyncio.Event)  # set to answer held requests at once
    rpc: list[tuple[str, str | None]] = field(default_factory=list)  # each JSON-RPC POST: (method, session id)
    listing: Callable[[list[MCPTool]], list[MCPTool]] | None = None  # rewrites `tools/list` (a hostile agent)

    def saw(self, secret: str) -> bool:
        """Whether any request so far carried `secret` in any header."""
        return any(secret in value for headers in self.headers for value in headers.values())

    def sessions_calling(self, method: str) -> set[str | None]:
        """The MCP session ids that carried a `method` request (e.g. `tools/call`)."""
        return {session for seen, session in self.rpc if seen == method}

    def count(self, tool: str) -> int:
        self.calls[tool] = self.calls.get(tool, 0) + 1
        return self.calls[tool]


class _PeerServer(MCPServer):
    """The SDK's server, with a tool list the test may rewrite (`PeerState.listing`)."""

    def __init__(self, state: PeerState, name: str, *, version: str) -> None:
        super().__init__(name, version=version)
        self.state = state

    async def list_tools(self) -> list[MCPTool]:
        tools = await super().list_tools()
        return tools if self.state.listing is None else self.state.listing(tools)


def build_server(
    state: PeerState, *, version: str = "1.4.2", only: set[str] | None = None, assistant_tools: bool = False
) -> MCPServer:
    server = _PeerServer(state, "test-peer", version=version)
    if assistant_tools:
        _assistant_tools(server, state)

    @server.tool(description="Add two integers.")
    def add(a: int, b: int) -> Sum:
        state.count("add")
        return Sum(total=a + b)

    @server.tool(description="Sleep, then answer.")
    async def sleep(seconds: float) -> str:
        state.count("sleep")
        await asyncio.sleep(seconds)
        return f"slept {seconds}"

    @server.tool(description="Fail the first N calls, then succeed.")
    def flaky(label: str) -> str:
        if state.count("flaky") <= state.fail_first:
            raise ToolError("not yet")
        return f"ok {label}"

    @server.tool(description="Always reports an error.")
    def broken() -> str:
        state.count("broken")
        raise ToolError("this tool is broken")

    if only is not None:
        for name in {"add", "sleep", "flaky", "broken"} - only:
            server.remove_tool(name)
    return server


class Customer(BaseModel):
    name: str
    plan: str
    balance: int


def _assistant_tools(server: MCPServer, state: PeerState) -> None:
    """What the assistant's tests need: a read-only tool (run at once) and one with side effects
    (proposed, run only once confirmed)."""

    @server.tool(
        description="Look a customer up by name.",
        annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False),
    )
    def lookup_customer(name: str) -> Customer:
        state.count("lookup_customer")
        return Customer(name=name, plan="gold", balance=1200)

    @server.tool(
        description="Send an invoice to a customer.",
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False),
    )
    def send_invoice(customer: str, amount: int) -> str:
        state.count("send_invoice")
        return f"invoice of {amount} sent to {customer}"


class RequireKey:
    """The peer's own API-key check, so tests can see the gateway sends the decrypted key."""

    def __init__(self, app: ASGIApp, key: str | None, state: PeerState) -> None:
        self.app, self.key, self.state = app, key, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.state.requests += 1
            self.state.headers.append(
                {name.decode("latin-1"): value.decode("latin-1") for name, value in scope.get("headers") or []}
            )
        if scope["type"] == "http" and self.key is not None and scope["path"] != "/health":
            headers = dict(scope.get("headers") or [])
            if headers.get(b"x-api-key", b"").decode() != self.key:
                await JSONResponse({"error": "unauthorised"}, status_code=401)(scope, receive, send)
                return
        if scope["type"] == "http" and scope["path"] == "/health":
            await JSONResponse({"status": "ok"})(scope, receive, send)
            return
        await self.app(scope, receive, send)


class Hang:
    """Records each JSON-RPC request's method and MCP session, and sits on requests for the methods in
    `state.hold` (e.g. `tools/list`, `ping`) for up to `state.hold_seconds` before the MCP server sees
    them: a peer that hangs mid-call."""

    def __init__(self, app: ASGIApp, state: PeerState) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        session = dict(scope.get("headers") or []).get(b"mcp-session-id")
        with contextlib.suppress(ValueError):
            parsed = json.loads(body)
            if isinstance(parsed, dict) and isinstance(method := parsed.get("method"), str):
                self.state.rpc.append((method, session.decode("latin-1") if session else None))
            if isinstance(parsed, dict) and parsed.get("method") in self.state.hold:
                self.state.held.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.state.release.wait(), self.state.hold_seconds)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningPeer:
    url: str
    health_url: str
    state: PeerState


@contextlib.asynccontextmanager
async def mcp_peer(
    *,
    api_key: str | None = None,
    fail_first: int = 2,
    port: int | None = None,
    version: str = "1.4.2",
    only: set[str] | None = None,
    assistant_tools: bool = False,
) -> AsyncIterator[RunningPeer]:
    state = PeerState(fail_first=fail_first)
    app = RequireKey(
        Hang(
            build_server(state, version=version, only=only, assistant_tools=assistant_tools).streamable_http_app(),
            state,
        ),
        api_key,
        state,
    )
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield RunningPeer(url=f"http://127.0.0.1:{port}/mcp", health_url=f"http://127.0.0.1:{port}/health", state=state)
    finally:
        server.should_exit = True
        await task


async def _serve_forever(port: int, api_key: str | None) -> None:
    async with mcp_peer(port=port, api_key=api_key):
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_serve_forever(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None))
