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
import sys
import time
from collections import Counter, defaultdict
from collections.abc import AsyncGenerator
from json import JSONDecodeError
from typing import Any, cast

from graphql import ExecutionResult as GraphQLResult
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.types import ASGIApp
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived, WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
    _OperationStreamClosed,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ErrorMessage as TransportError
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import ErrorMessage as LegacyError
from strawberry.types.execution import ExecutionResult, PreExecutionError

from gateway import logs
from graph.document_limits import too_large_error
from graph.live import HandedOver, LiveSubscription
from graph.persisted import untrusted_socket_error
from graph.shared_results import next_frame
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

    def connections_of(self, user_id: object) -> int:
        return sum(1 for owner in self._users.values() if owner == str(user_id))

    def add(self, websocket: WebSocket, sign_in_id: str | None, expires_at: int, user_id: object) -> None:
        self._users[websocket] = str(user_id)
        if sign_in_id is not None:
            self._by_sign_in[sign_in_id].add(websocket)
        loop = asyncio.get_running_loop()
        delay = max(expires_at - time.time(), 0)
        self._expiry[websocket] = loop.call_later(
            delay, lambda: asyncio.ensure_future(close_socket(websocket, SESSION_ENDED, "Token expired"))
        )
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
            await close_socket(websocket, SESSION_ENDED, "Session revoked")

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


def _refused_operation(handler: Any, message: Any) -> dict[str, Any] | None:
    """The error an acknowledged socket is answered with instead of running the operation `message` starts
    (a document that is not trusted, graph/persisted.py, or one over the text limit); None to run it.

    The document's text is interned first: every subscription keeps its text for as long as it runs, and
    clients send the same few documents, so thousands of subscriptions share one copy."""
    payload = message.get("payload")
    query = payload.get("query") if isinstance(payload, dict) else None
    if isinstance(query, str):
        query = payload["query"] = sys.intern(query)
    persisted = getattr(handler.view, "persisted", None)
    error = untrusted_socket_error(persisted.trusted if persisted is not None else None, query)
    if error is None:
        error = oversized_document_error(handler.view, query)
    return error if handler.connection_acknowledged else None


def oversized_document_error(view: Any, query: object) -> dict[str, Any] | None:
    """The error the HTTP path answers for a document over the text limit (graph/document_limits.py),
    for the socket handlers to send as an `error` message instead of failing the operation's task."""
    resources = getattr(view, "resources", None)
    limit = resources.settings.max_query_bytes if resources is not None else None
    if limit is None or not isinstance(query, str) or len(query) <= limit:
        return None
    return cast(dict[str, Any], too_large_error(len(query), limit).formatted)


class _WentLive(_OperationStreamClosed):
    """The operation's stream ended because its subscription went live (graph/live.py): no `complete`."""


class TransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """strawberry's `graphql-transport-ws` handler, running only trusted documents when a manifest is set
    (graph/persisted.py), and keeping an opened subscription as a `LiveSubscription` (graph/live.py)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.live: dict[str, LiveSubscription] = {}

    async def _send_result_stream(self, operation: Operation[Any, Any], result_source: Any) -> None:
        is_first_result = True
        async for result in result_source:
            if is_first_result and isinstance(result, PreExecutionError):
                await self._handle_pre_execution_error(operation, result)
                return
            if not isinstance(result, ExecutionResult):
                await self._reject_incremental_delivery(operation)
                return
            if isinstance(result.data, HandedOver):
                output = _TransportOutput(self, operation)
                self.live[operation.id] = LiveSubscription(
                    result.data, cast(Any, self.view).resources.events, self.schema, output
                )
                operation.variables = None  # coerced, they are in the live subscription's plan
                raise _WentLive  # closes the stream: its generators and extension contexts end here
            await operation.send_next(result)
            is_first_result = False

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        super()._task_done(task)
        # A live operation's task has ended (its subscription went on as callbacks): let it go.
        for operation_id in self.live:
            operation = self.operations.get(operation_id)
            if operation is not None and operation.task is task:
                operation.task = None

    async def cleanup_operation(self, operation_id: str) -> None:
        live = self.live.pop(operation_id, None)
        if live is None:
            await super().cleanup_operation(operation_id)
            return
        operation = self.operations.pop(operation_id, None)
        if operation is not None and operation.task is not None:
            operation.task.cancel()
        await live.stop()

    async def handle_subscribe(self, message: Any) -> None:
        error = _refused_operation(self, message)
        if error is not None:
            await self.send_message(TransportError(id=message["id"], type="error", payload=[cast(Any, error)]))
            return
        await super().handle_subscribe(message)
        # The operation has what it needs; the read loop keeps its last message until the next one.
        message.clear()

    async def handle_connection_init(self, message: Any) -> None:
        await super().handle_connection_init(message)
        # Cancelled by now (or done): no need to keep the task for the socket's life.
        self.connection_init_timeout_task = None

    async def send_message(self, message: Any) -> None:
        """A `next` frame whose data several subscribers share goes out with the data encoded once
        (graph/shared_results.py); everything else as strawberry sends it."""
        text = next_frame(message, self.view.encode_json_string)
        if text is None:
            await super().send_message(message)
            return
        try:
            await cast(Any, self.websocket).ws.send_text(text)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class _TransportOutput:
    __slots__ = ("handler", "operation")

    def __init__(self, handler: TransportWSHandler, operation: Operation[Any, Any]) -> None:
        self.handler, self.operation = handler, operation

    async def send(self, result: GraphQLResult) -> None:
        await self.operation.send_next(cast(Any, result))

    async def end(self, result: GraphQLResult | None) -> None:
        self.handler.live.pop(self.operation.id, None)
        if result is not None:
            await self.operation.send_next(cast(Any, result))
        await self.operation.send_operation_message({"id": self.operation.id, "type": "complete"})


class LegacyGraphQLWSHandler(BaseGraphQLWSHandler[Any, Any]):
    """strawberry's legacy `graphql-ws` handler, made to refuse what graphql-transport-ws refuses:
    a rejected `connection_init` closes with 4403 (not 1011), and a socket that never sends one is
    closed with 4408 after the same wait; an opened subscription is kept as a `LiveSubscription`
    (graph/live.py)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.live: dict[str, LiveSubscription] = {}

    async def handle_async_results(
        self, operation_id: str, query: str, operation_name: str | None, variables: dict[str, object] | None
    ) -> None:
        """strawberry's, except that a subscription that goes live ends its stream without `complete`
        and keeps its (finished) task in `tasks`, where the subscription limit and `stop` find it."""
        live = False
        try:
            result_source = await self.schema.subscribe(
                query=query,
                variable_values=variables,
                operation_name=operation_name,
                context_value=self.context,
                root_value=self.root_value,
            )
            self.subscriptions[operation_id] = result_source
            is_first_result = True
            async for result in result_source:
                if is_first_result and isinstance(result, PreExecutionError):
                    assert result.errors
                    await self.send_message(
                        LegacyError(type="error", id=operation_id, payload=result.errors[0].formatted)
                    )
                    return
                if isinstance(result.data, HandedOver):
                    output = _LegacyOutput(self, operation_id)
                    self.live[operation_id] = LiveSubscription(
                        result.data, cast(Any, self.view).resources.events, self.schema, output
                    )
                    live = True
                    break
                await self.send_data_message(result, operation_id)
                is_first_result = False
            if live:
                await result_source.aclose()  # its generators and extension contexts end here
                return
            await self.send_message({"type": "complete", "id": operation_id})
        except asyncio.CancelledError:
            await self.send_message({"type": "complete", "id": operation_id})
        finally:
            self.subscriptions.pop(operation_id, None)
            if not live:
                self.tasks.pop(operation_id, None)

    async def cleanup_operation(self, operation_id: str) -> None:
        live = self.live.pop(operation_id, None)
        if live is None:
            await super().cleanup_operation(operation_id)
            return
        self.tasks.pop(operation_id, None)
        await live.stop()
        # As a stopped stream is answered.
        with contextlib.suppress(Exception):
            await self.send_message({"type": "complete", "id": operation_id})

    async def handle(self) -> None:
        timeout = asyncio.create_task(self._close_if_not_initialised())
        try:
            await super().handle()
        finally:
            timeout.cancel()

    async def _close_if_not_initialised(self) -> None:
        await asyncio.sleep(self.view.connection_init_wait_timeout.total_seconds())
        if not self.connection_acknowledged:
            await self.websocket.close(code=INIT_TIMEOUT, reason="Connection initialisation timeout")

    async def handle_start(self, message: Any) -> None:
        error = _refused_operation(self, message)
        if error is not None:
            await self.send_message(LegacyError(type="error", id=message["id"], payload=cast(Any, error)))
            return
        await super().handle_start(message)
        message.clear()  # as in TransportWSHandler.handle_subscribe

    async def handle_connection_init(self, message: Any) -> None:
        payload = message.get("payload")
        if payload is not None and not isinstance(payload, dict):
            await self.send_message({"type": "connection_error"})
            await self.websocket.close(code=FORBIDDEN, reason="Forbidden")
            return
        self.context.connection_params = payload
        try:
            await self.view.on_ws_connect(self.context)
        except ConnectionRejectionError as rejection:
            await self.send_message({"type": "connection_error", "payload": rejection.payload})
            await self.websocket.close(code=FORBIDDEN, reason="Forbidden")
            return
        await self.send_message({"type": "connection_ack"})
        self.connection_acknowledged = True
        if self.keep_alive:
            self.keep_alive_task = asyncio.create_task(self.handle_keep_alive())


class _LegacyOutput:
    __slots__ = ("handler", "operation_id")

    def __init__(self, handler: LegacyGraphQLWSHandler, operation_id: str) -> None:
        self.handler, self.operation_id = handler, operation_id

    async def send(self, result: GraphQLResult) -> None:
        await self.handler.send_data_message(cast(Any, result), self.operation_id)

    async def end(self, result: GraphQLResult | None) -> None:
        handler = self.handler
        handler.live.pop(self.operation_id, None)
        handler.tasks.pop(self.operation_id, None)
        if result is not None:
            await handler.send_data_message(cast(Any, result), self.operation_id)
        await handler.send_message({"type": "complete", "id": self.operation_id})


class SocketAdapter(ASGIWebSocketAdapter):
    """strawberry's socket adapter, without holding the text of the last message while it waits for the
    next (a subscribe message with its document and variables, for the socket's life)."""

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object, None]:
        while self.ws.application_state != WebSocketState.DISCONNECTED:
            try:
                message = await self._next_json()
            except JSONDecodeError as error:
                if not ignore_parsing_errors:
                    raise NonJsonMessageReceived from error
                continue
            except KeyError as error:
                raise NonTextMessageReceived from error
            except WebSocketDisconnect:
                return
            yield message
            del message

    async def _next_json(self) -> object:
        return self.view.decode_json(await self.ws.receive_text())


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
