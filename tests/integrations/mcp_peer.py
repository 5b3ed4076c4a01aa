"""An MCP server on loopback (official SDK) whose tool acts through a lent integration: it reads the
access token from the call's `_meta.integrations.<provider>` and calls the provider's user info with it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from tests.live import free_port


@dataclass
class SeenCalls:
    arguments: list[dict[str, Any]] = field(default_factory=list)
    metas: list[dict[str, Any]] = field(default_factory=list)


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
async def integration_peer(userinfo_url: str) -> AsyncIterator[RunningPeer]:
    seen = SeenCalls()
    app = build_server(userinfo_url, seen).streamable_http_app()
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
