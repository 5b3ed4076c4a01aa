"""What an orchestrator asks the process: is it up (`/healthz`), can it serve (`/readyz`: PostgreSQL and
Redis answer within 2 s), and which keys verify its tokens (`/.well-known/jwks.json`)."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.resources import Resources

CHECK_SECONDS = 2


def probe_routes(resources: Resources) -> list[Route]:
    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        checks = {"postgres": await _postgres(resources), "redis": await _redis(resources)}
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", **checks}, status_code=200 if ready else 503
        )

    async def jwks(_: Request) -> Response:
        return JSONResponse(resources.keys.public_jwks(), headers={"Cache-Control": "public, max-age=300"})

    return [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/.well-known/jwks.json", jwks),
    ]


async def _postgres(resources: Resources) -> str:
    try:
        async with asyncio.timeout(CHECK_SECONDS), resources.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        return "unreachable"
    return "ok"


async def _redis(resources: Resources) -> str:
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            await resources.redis.ping()  # type: ignore[misc]  # redis-py types ping as sync-or-async
    except Exception:
        return "unreachable"
    return "ok"
