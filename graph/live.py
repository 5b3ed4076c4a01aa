"""Subscriptions that hold no task, no generator and no extension context while they wait for an event
(issue 14 memory, docs/decisions.md "Idle subscriptions are callbacks").

A subscription resolver opens as before, through strawberry and every extension like any operation (the
document's limits and cost, the viewer, the watched row, an `after` replay), then yields a `Handover`: its
event subscription and its `step`, what it makes of each later event. That payload executes to a
`HandedOver` result, which the socket handler (graph/sockets.py) turns into a `LiveSubscription` before it
closes the stream, so the resolver's generator, graphql-core's map iterator and strawberry's extension
runner all end. From then on the event hub's reader calls `LiveSubscription.receive` for each event; only
while events wait does the subscription run a task, which feeds them one at a time, in arrival order,
through `step`, executes the selection for each payload (once per key for every subscriber,
graph/shared_results.py) on a database session of its own, and sends the frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from graphql import ExecutionResult, GraphQLError
from strawberry.http.exceptions import WebSocketDisconnected

from gateway import logs
from graph.context import Context
from graph.errors import RequestErrorCode, request_error
from graph.extensions import MASK
from graph.shared_results import SharingExecutor, shared_result
from services.events import EventHub, Subscription, interruption

# What a subscription makes of one event (a decoded `dict`, usually the hub's shared `Event`): the payloads
# to execute and send, in order (none for an event it does not stream).
Step = Callable[[Any], Awaitable[list[Any]]]


class Handover:
    """Yielded by a subscription resolver once it has opened: the rest of its events are delivered by
    callback, from `subscription`, through `step`."""

    __slots__ = ("step", "subscription")

    def __init__(self, subscription: Subscription, step: Step) -> None:
        self.subscription, self.step = subscription, step


class HandedOver(dict[str, Any]):
    """The data of the result a `Handover` executes to: a sign for the socket handler, never sent."""

    def __init__(self, executor: HandingOver, handover: Handover) -> None:
        super().__init__()
        self.executor, self.handover = executor, handover


class HandingOver(SharingExecutor):
    """graphql-core's executor, executing a `Handover` to a `HandedOver` result (see the module)."""

    def build_per_event_executor(self, payload: Any) -> Any:
        if isinstance(payload, Handover):
            return _HandoverEvent(self, payload)
        return super().build_per_event_executor(payload)


class _HandoverEvent:
    __slots__ = ("executor", "handover")

    def __init__(self, executor: HandingOver, handover: Handover) -> None:
        self.executor, self.handover = executor, handover

    def execute_operation(self, serially: bool | None = None) -> ExecutionResult:
        return ExecutionResult(data=HandedOver(self.executor, self.handover), errors=None)


class LiveOutput(Protocol):
    """Where a live subscription's frames go: the socket handler's protocol for one operation id."""

    async def send(self, result: ExecutionResult) -> None: ...

    async def end(self, result: ExecutionResult | None) -> None:
        """Send `result` (an error) if any, then end the operation (`complete`)."""


class _Plan:
    """What executing the selection on one payload takes: the arguments the subscription's executor was
    built with. An idle subscription keeps these (~200 bytes), not the executor (~1.5 KiB with its caches,
    sets and error lists); an event that no other subscriber of the same key executed builds one."""

    __slots__ = ("arguments", "executor_class", "extensions", "operation", "share_key")

    def __init__(self, executor: HandingOver) -> None:
        self.executor_class = type(executor)
        self.operation, self.share_key = executor.operation, executor.share_key()
        self.extensions = executor.operation_extensions
        self.arguments = (
            executor.schema,
            executor.fragment_definitions,
            executor.fragments,
            None,  # the root value: each event's payload
            executor.context_value,
            executor.operation,
            executor.variable_values,
            executor.field_resolver,
            executor.type_resolver,
            executor.subscribe_field_resolver,
            executor.enable_early_execution,
            executor.middleware_manager,
            executor.is_awaitable,
            executor.is_async_iterable,
            executor.hide_suggestions,
            executor.abort_signal,
            executor.hooks,
        )

    @property
    def context(self) -> Any:
        return self.arguments[4]

    def execute(self, payload: Any) -> Any:
        """The result for `payload` (an awaitable when the execution is asynchronous)."""
        shared = shared_result(payload, self.share_key, self.operation)
        if shared is not None:
            return shared
        schema, definitions, fragments, _, *rest = self.arguments
        executor = self.executor_class(
            schema, definitions, fragments, payload, *rest, operation_extensions=self.extensions
        )
        executor._share_key = self.share_key  # executed once for every subscriber of the key
        return executor.execute_operation(False)


class LiveSubscription:
    """One subscription between events: this object, its event subscription and its step's state."""

    __slots__ = ("draining", "hub", "output", "pending", "plan", "request_id", "schema", "step", "subscription")

    def __init__(self, handed: HandedOver, hub: EventHub, schema: Any, output: LiveOutput) -> None:
        self.plan, self.step = _Plan(handed.executor), handed.handover.step
        self.subscription = handed.handover.subscription
        self.hub, self.schema, self.output = hub, schema, output
        self.pending: list[object] | None = None
        self.draining: asyncio.Task[None] | None = None
        # The socket's, for the log lines of its events (a drain task starts in the hub reader's context).
        self.request_id = logs.request_id.get()
        self.subscription.hand_over(self.receive)

    def receive(self, item: object) -> bool:
        """Called by the hub for each event (and for the end of the stream); False when `limit` events
        wait already, as a reader that falls behind is dropped, not buffered without bound."""
        pending = self.pending
        if interruption(item) is not None:
            self.pending = [item]  # what waits is forgotten: the subscriber is told at once
        elif pending is None:
            self.pending = [item]
        elif len(pending) >= self.subscription.limit:
            return False
        else:
            pending.append(item)
        if self.draining is None:
            self.draining = asyncio.get_running_loop().create_task(self._drain())
        return True

    async def _drain(self) -> None:
        logs.request_id.set(self.request_id)
        viewer = getattr(self.plan.context, "viewer", None)
        logs.user_id.set(str(viewer.user_id) if viewer is not None else None)
        try:
            while self.pending:
                item = self.pending.pop(0)
                if not self.pending:
                    self.pending = None
                failure = interruption(item)
                if failure is not None:
                    await self._end(request_error(str(failure), RequestErrorCode.UNAVAILABLE))
                    return
                for payload in await self.step(item):
                    await self.output.send(await self._execute(payload))
        except WebSocketDisconnected:
            self.pending = None  # the socket is gone; its handler stops every operation on it
        except GraphQLError as error:
            await self._end(error)
        except Exception as error:
            # As strawberry answers an exception raised by a subscription's source: one (masked) error.
            await self._end(GraphQLError(str(error), original_error=error))
        finally:
            self.draining = None

    async def _execute(self, payload: Any) -> ExecutionResult:
        """The selection executed on `payload`, on a database session that is closed before it is sent
        (as the gateway's extension does for a streamed result)."""
        context = self.plan.context
        scope = context.operation() if isinstance(context, Context) else contextlib.nullcontext()
        with scope as opened:
            try:
                result = self.plan.execute(payload)
                if inspect.isawaitable(result):
                    result = await result
            finally:
                if opened is not None:
                    await opened.close()
        return self._finished(result)

    def _finished(self, result: ExecutionResult) -> ExecutionResult:
        if result.errors:
            self.schema.process_errors(result.errors)
            MASK._process_result(result)
        return result

    async def _end(self, error: GraphQLError) -> None:
        self.pending = None
        await self.hub.release(self.subscription)
        with contextlib.suppress(WebSocketDisconnected):
            await self.output.end(self._finished(ExecutionResult(data=None, errors=[error])))

    async def stop(self) -> None:
        """The client stopped the operation, or the socket closed."""
        self.pending = None
        draining = self.draining
        if draining is not None and draining is not asyncio.current_task():
            draining.cancel()
        await self.hub.release(self.subscription)
