"""The two socket protocols, `graphql-transport-ws` and the legacy `graphql-ws`: strawberry's handlers, with
the gateway's refusals (untrusted or oversized documents, the legacy protocol's 4403 and 4408), and an opened
subscription kept as a `LiveSubscription` (graph/live.py) instead of a suspended stream."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncGenerator
from json import JSONDecodeError
from typing import Any, cast

from graphql import ExecutionResult as GraphQLResult
from starlette.websockets import WebSocketDisconnect, WebSocketState
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

from graph.document_limits import too_large_error
from graph.live import HandedOver, LiveSubscription
from graph.persisted import untrusted_socket_error
from graph.shared_results import next_frame
from graph.sockets import FORBIDDEN, INIT_TIMEOUT


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
                if self.operations.get(operation.id) is not operation:
                    # Completed (or replaced) while it opened, and its task not stopped by the cancel (the
                    # cancel reached no await on its way to here): nobody would ever stop it.
                    await cast(Any, self.view).resources.events.release(result.data.handover.subscription)
                    raise _WentLive
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
        result_source: Any = None
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
                    if self.tasks.get(operation_id) is not asyncio.current_task():
                        # Stopped (or replaced) while it opened: nobody will stop it.
                        await cast(Any, self.view).resources.events.release(result.data.handover.subscription)
                        return
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
                if result_source is not None and hasattr(result_source, "aclose"):
                    # Closed here, in the operation's task: left to the event loop's finaliser, it ended
                    # in a context of its own, where the operation scope's reset failed (ValueError).
                    with contextlib.suppress(Exception):
                        await result_source.aclose()

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
