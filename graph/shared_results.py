"""Subscriptions executed once per event, not once per subscriber.

Every local subscriber of a channel receives the same event object (services/events.py `Event`), and
the subscription resolvers derive the object they yield from it once (`shared_payload`). The executor
below then runs the selection once per distinct (payload, operation, variables, viewer) and hands the
same result to every subscriber of that key; its data is encoded to JSON once (`SharedData`), and the
socket handler (graph/sockets.py) wraps the same bytes in each subscriber's `next` frame.

Each subscriber keeps its own replay, ordering and state (once live, as a callback, graph/live.py): only
the execution of a payload they all received is shared. The viewer is part of the key because a selection may reach
per-user data; results are never shared across users.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from graphql import ExecutionResult, OperationType
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from services.events import Event

T = TypeVar("T")
A = TypeVar("A")


@dataclass
class SharingCounters:
    executions: int = 0  # subscription events whose selection was executed
    shared: int = 0  # subscription results handed on without executing again
    encodings: int = 0  # shared results encoded to JSON


counters = SharingCounters()

# id(payload) -> (weak reference to the payload, {key: (operation, result)}), by identity (strawberry
# types compare by value and are unhashable). The memo lives as long as the payload, i.e. until every
# subscriber has sent the event.
_results: dict[int, tuple[weakref.ref[Any], dict[tuple[Any, ...], tuple[Any, Any]]]] = {}


def _mark(payload: Any) -> None:
    key = id(payload)
    _results[key] = (weakref.ref(payload, lambda _: _results.pop(key, None)), {})


def _memo(payload: Any) -> dict[tuple[Any, ...], tuple[Any, Any]] | None:
    entry = _results.get(id(payload))
    return entry[1] if entry is not None and entry[0]() is payload else None


def derived(event: Any, name: str, build: Callable[[A], T], argument: A) -> T:
    """`build(argument)`, a value every local subscriber computes from `event` (a decoded row), computed
    once."""
    return event.derive(name, lambda: build(argument)) if isinstance(event, Event) else build(argument)


def shared_payload(event: Any, name: str, build: Callable[[A], T], argument: A) -> T:
    """What a subscription yields for `event`, built once for every local subscriber that received it.
    Events that did not come through the hub (no `Event`) are built per subscriber, as before."""
    if not isinstance(event, Event):
        return build(argument)

    def marked() -> T:
        payload = build(argument)
        if payload is not None:
            _mark(payload)
        return payload

    return event.derive(name, marked)


class SharedData(dict[str, Any]):
    """A subscription result's data, shared by the subscribers of one key: encoded once."""

    _encoded: str | None = None

    def encoded(self, encode: Callable[[object], str]) -> str:
        if self._encoded is None:
            self._encoded = encode(dict(self))
            counters.encodings += 1
        return self._encoded


def next_frame(message: Any, encode: Callable[[object], str]) -> str | None:
    """The text of a `next` message whose data is shared, with the data's JSON encoded once; None for
    any other message (errors, extensions or unshared data are encoded as usual)."""
    if message.get("type") != "next":
        return None
    payload = message.get("payload")
    if not isinstance(payload, dict) or len(payload) != 1:
        return None
    data = payload.get("data")
    if not isinstance(data, SharedData):
        return None
    return '{"id":' + json.dumps(message["id"]) + ',"type":"next","payload":{"data":' + data.encoded(encode) + "}}"


def _variables_key(variables: Any) -> str:
    coerced = getattr(variables, "coerced", variables)
    return json.dumps(coerced, sort_keys=True, default=repr)


def _viewer_key(context: Any) -> str | None:
    viewer = getattr(context, "viewer", None)
    return str(viewer.user_id) if viewer is not None else None


def _shared_result(result: Any) -> Any:
    if isinstance(result, ExecutionResult) and isinstance(result.data, dict):
        return ExecutionResult(data=SharedData(result.data), errors=result.errors, extensions=result.extensions)
    return result


def shared_result(payload: Any, key: tuple[Any, ...], operation: Any) -> Any:
    """The result another subscriber of `key` already has (or is executing) for `payload`, or None."""
    memo = _memo(payload)
    found = memo.get(key) if memo is not None else None
    if found is None or found[0] is not operation:
        return None
    counters.shared += 1
    return _await_shared(found[1]) if isinstance(found[1], asyncio.Future) else found[1]


class SharingExecutor(StrawberryGraphQLCoreExecutionContext):
    """strawberry's executor, executing a shared subscription payload once per key (see the module)."""

    _share_key: tuple[Any, ...] | None = None

    def share_key(self) -> tuple[Any, ...]:
        """The subscription's key: once per subscription, the same for every event."""
        if self._share_key is None:
            self._share_key = (
                id(self.operation),
                _variables_key(self.variable_values),
                _viewer_key(self.context_value),
            )
        return self._share_key

    def build_per_event_executor(self, payload: Any) -> Any:
        key = self.share_key()
        memo = _memo(payload)
        found = memo.get(key) if memo is not None else None
        if found is not None and found[0] is self.operation:
            # Another subscriber already executed this event: no per-event copy of the executor
            # (graphql-core copies it per event, 6% of a delivery's CPU under the realtime bench).
            counters.shared += 1
            return _SharedEvent(found[1])
        return super().build_per_event_executor(payload)

    def execute_operation(self, serially: bool | None = None) -> Any:
        key = self._share_key
        if key is None or self.operation.operation is not OperationType.SUBSCRIPTION:
            return super().execute_operation(serially)
        memo = _memo(self.root_value)
        if memo is None:
            counters.executions += 1
            return super().execute_operation(serially)
        found = memo.get(key)
        if found is not None and found[0] is self.operation:
            counters.shared += 1
            result = found[1]
            return _await_shared(result) if isinstance(result, asyncio.Future) else result
        counters.executions += 1
        result = super().execute_operation(serially)
        if self.is_awaitable(result):
            task = asyncio.ensure_future(_shared_async(result))
            memo[key] = (self.operation, task)
            return _await_shared(task)
        shared = _shared_result(result)
        memo[key] = (self.operation, shared)
        return shared


async def _shared_async(result: Awaitable[Any]) -> Any:
    return _shared_result(await result)


async def _await_shared(task: asyncio.Future[Any]) -> Any:
    # Shielded: one subscriber leaving must not cancel the execution the others wait for.
    return await asyncio.shield(task)


class _SharedEvent:
    """What graphql-core executes for a subscriber whose event result is already shared."""

    __slots__ = ("result",)

    def __init__(self, result: Any) -> None:
        self.result = result

    def execute_operation(self, serially: bool | None = None) -> Any:
        result = self.result
        return _await_shared(result) if isinstance(result, asyncio.Future) else result
