"""An MCP server on loopback (official SDK) whose tool acts through a lent integration: it reads the
access token from the call's `_meta.integrations.<provider>` and calls the provider's user info with it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from starlette.responses import JSONResponse

from tests.live import free_port


@dataclass
class SeenCalls:
    arguments: list[dict[str, Any]] = field(default_factory=list)
    metas: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    refused: int = 0


class RequireBearer:
    """The agent's own check: every request carries a bearer token the authorization server vouches for."""

    def __init__(self, app: Any, valid: Callable[[str], bool], seen: SeenCalls) -> None:
        self.app, self.valid, self.seen = app, valid, seen

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            header = dict(scope.get("headers") or []).get(b"authorization", b"").decode()
            self.seen.authorizations.append(header)
            if not (header.startswith("Bearer ") and self.valid(header[7:])):
                self.seen.refused += 1
                await JSONResponse({"error": "invalid_token"}, status_code=401)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def build_server(userinfo_url: str, seen: SeenCalls) -> MCPServer:
    server = MCPServer("integration-peer", version="1.0.0")

    @server.tool(description="Who the lent Gmail token belongs to, asked of the provider itself.")
    async def whoami(provider: str, ctx: Context) -> str:
        meta = dict(ctx.request_context.meta or {})
        seen.metas.append(meta)
        seen.arguments.append({"provider": provider})
        lent = (meta.get("integrations") or {}).get(provider)
        if not lent:
            raise ToolError(f"no {provider} token was lent")
        async with httpx.AsyncClient(timeout=5) as http:
            answer = await http.get(userinfo_url, headers={"Authorization": f"Bearer {lent['accessToken']}"})
        if answer.status_code != 200:
            raise ToolError(f"the provider refused the token ({answer.status_code})")
        return str(answer.json()["email"])

    return server


@dataclass
class RunningPeer:
    url: str
    seen: SeenCalls


@contextlib.asynccontextmanager
async def integration_peer(
    userinfo_url: str, *, require_token: Callable[[str], bool] | None = None
) -> AsyncIterator[RunningPeer]:
    seen = SeenCalls()
    app: Any = build_server(userinfo_url, seen).streamable_http_app()
    if require_token is not None:
        app = RequireBearer(app, require_token, seen)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield RunningPeer(url=f"http://127.0.0.1:{port}/mcp", seen=seen)
    finally:
        server.should_exit = True
        await task
