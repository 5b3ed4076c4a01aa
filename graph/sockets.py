"""WebSocket sessions: admission (sockets per address, message rate), who is on each socket, and closing
sockets whose sign-in ends.

A socket authenticates once, in `connection_init`. It is closed with 4401 when its access token
expires or its sign-in session is revoked (logout, password change, theft detection, account deletion).
One Redis subscription per process listens for revocations, not one per socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter, defaultdict
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.types import ASGIApp
from starlette.websockets import WebSocket, WebSocketState

from gateway import logs
from graph.telemetry import request_id_of
from services.resources import Resources
from services.sign_ins import REVOCATIONS_CHANNEL, is_revoked

log = logging.getLogger("gateway.sockets")

SESSION_ENDED = 4401
FORBIDDEN = 4403
INIT_TIMEOUT = 4408
TOO_MANY_SOCKETS = 4429


async def close_socket(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(Exception):
            await websocket.close(code=code, reason=reason)


class SocketRegistry:
    """The process's authenticated sockets, by sign-in session, so a revocation closes them at once."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._by_sign_in: dict[str, set[WebSocket]] = defaultdict(set)
        self._users: dict[WebSocket, str] = {}
        self._expiry: dict[WebSocket, asyncio.TimerHandle] = {}
        self._listener: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Future[None]] = set()

    def connections_of(self, user_id: object) -> int:
        return sum(1 for owner in self._users.values() if owner == str(user_id))

    def add(self, websocket: WebSocket, sign_in_id: str | None, expires_at: int, user_id: object) -> None:
        self._users[websocket] = str(user_id)
        if sign_in_id is not None:
            self._by_sign_in[sign_in_id].add(websocket)
        loop = asyncio.get_running_loop()
        delay = max(expires_at - time.time(), 0)
        self._expiry[websocket] = loop.call_later(delay, lambda: self._close_soon(websocket, "Token expired"))
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen())

    def discard_scope(self, scope: Any) -> None:
        """Forget the socket of this ASGI scope (strawberry builds its own WebSocket on the scope)."""
        for websocket in [ws for ws in self._expiry if ws.scope is scope]:
            self.discard(websocket)

    def discard(self, websocket: WebSocket) -> None:
        self._users.pop(websocket, None)
        timer = self._expiry.pop(websocket, None)
        if timer is not None:
            timer.cancel()
        for sign_in_id in [sid for sid, sockets in self._by_sign_in.items() if websocket in sockets]:
            self._by_sign_in[sign_in_id].discard(websocket)
            if not self._by_sign_in[sign_in_id]:
                del self._by_sign_in[sign_in_id]

    async def revoke(self, sign_in_id: str) -> None:
        for websocket in list(self._by_sign_in.pop(sign_in_id, ())):
            self._close_soon(websocket, "Session revoked")

    def _close_soon(self, websocket: WebSocket, reason: str) -> None:
        """Close `websocket` with 4401 in a task of its own: a close waits until the socket's writes may go
        on, and a client that stops reading holds its socket's writes paused for as long as uvicorn's
        keep-alive waits for its pong (~40 s), so the revocation listener, which closes every other
        user's sockets too, never waits for one (docs/decisions.md, "A revocation waits for no socket")."""
        closing = asyncio.ensure_future(close_socket(websocket, SESSION_ENDED, reason))
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(REVOCATIONS_CHANNEL)
                    await self._close_revoked()
                    while True:
                        # A read with its own timeout: a blocking `listen()` hits the client's
                        # socket_timeout after a few idle seconds and drops the subscription.
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=60)
                        if message is not None and message.get("type") == "message":
                            sign_in_id = json.loads(message["data"]).get("sid")
                            if sign_in_id:
                                await self.revoke(sign_in_id)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, ValueError):
                log.warning("revocation listener lost Redis; retrying", exc_info=True)
                await asyncio.sleep(1)

    async def _close_revoked(self) -> None:
        """Revocations published while not subscribed (start-up, a Redis outage) left their marks."""
        for sign_in_id in list(self._by_sign_in):
            if await is_revoked(self._redis, sign_in_id):
                await self.revoke(sign_in_id)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener


class SocketApp:
    """The WebSocket endpoint: at most `GATEWAY_MAX_SOCKETS_PER_ADDRESS` open sockets per client address
    (initialised or not), then strawberry's handler, then forgetting the socket when it ends."""

    def __init__(self, app: ASGIApp, registry: SocketRegistry, resources: Resources) -> None:
        self.app, self.registry, self.resources = app, registry, resources
        self.open_per_address: Counter[str] = Counter()

    def open_count(self) -> int:
        return sum(self.open_per_address.values())

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        resources = self.resources
        peer = scope.get("client")
        forwarded = next(
            (value.decode("latin-1") for name, value in scope.get("headers", ()) if name == b"x-forwarded-for"), None
        )
        address = resources.proxies.client(peer[0] if peer else None, forwarded) or "unknown"
        if self.open_per_address[address] >= resources.settings.max_sockets_per_address:
            # Refused at the handshake (the client sees HTTP 403), before any per-socket work.
            await send(
                {
                    "type": "websocket.close",
                    "code": TOO_MANY_SOCKETS,
                    "reason": "Too many open sockets from this address",
                }
            )
            return
        self.open_per_address[address] += 1
        # Every log line of the socket carries its request id (graph/telemetry.py).
        request_id = logs.request_id.set(request_id_of(scope))
        try:
            await self.app(scope, MessageRate(receive, send), send)
        finally:
            logs.request_id.reset(request_id)
            self.open_per_address[address] -= 1
            if self.open_per_address[address] <= 0:
                del self.open_per_address[address]
            self.registry.discard_scope(scope)


class MessageRate:
    """The socket's `receive`, allowing a burst of 100 client messages and 20 a second after that: a
    ping flood (154,000 pings in 8 s from one socket, before `connection_init`) kept the loop answering
    pongs, and /healthz waited 0.6 s. A socket over the rate is closed with 4429."""

    BURST, PER_SECOND = 100, 20.0
    __slots__ = ("last", "receive", "send", "tokens")

    def __init__(self, receive: Any, send: Any) -> None:
        self.receive, self.send = receive, send
        self.tokens, self.last = float(self.BURST), time.monotonic()

    async def __call__(self) -> Any:
        message = await self.receive()
        if message.get("type") != "websocket.receive":
            return message
        now = time.monotonic()
        self.tokens = min(self.BURST, self.tokens + (now - self.last) * self.PER_SECOND) - 1
        self.last = now
        if self.tokens >= 0:
            return message
        with contextlib.suppress(Exception):
            await self.send({"type": "websocket.close", "code": TOO_MANY_SOCKETS, "reason": "Too many messages"})
        return {"type": "websocket.disconnect", "code": TOO_MANY_SOCKETS}
