"""How every mutation runs its use case: one unit of work on the request's session, committed before the
payload is built (a failed commit is a GraphQL error, never a false success); a rejection rolls back and
becomes the payload's `errors`; the use case's after-commit hooks (events, jobs) run once it committed."""

from __future__ import annotations

import inspect
import types
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

import strawberry
from strawberry.permission import BasePermission

from graph.context import Info
from graph.errors import UserError, user_errors
from graph.permissions import OPERATORS, SIGNED_IN
from resolvers.problems import Problem, Rejected
from resolvers.unit_of_work import UnitOfWork

T = TypeVar("T")
P = TypeVar("P", covariant=True)


class Payload(Protocol[P]):
    """A payload type: built with its `errors` alone when the use case refused the input."""

    def __call__(self, *, errors: list[UserError]) -> P: ...


async def mutate(
    info: Info,
    work: Callable[[UnitOfWork], Awaitable[T]],
    answer: Callable[[T], P],
    payload: Payload[P],
) -> P:
    """Run `work` in a unit of work and answer with `answer(result)`, or `payload(errors=...)` when
    the use case raised `Rejected` (nothing written, no hook run)."""
    context = info.context
    db = context.db
    async with db.lock:
        unit = UnitOfWork(db.session, context.resources.events, context.resources.queues)
        try:
            result = await unit.run(work)
        except Rejected as rejected:
            return payload(errors=user_errors(rejected.problems))
    await unit.run_hooks()
    return answer(result)


Work = Callable[[UnitOfWork], Awaitable[T]]


def refuse(*problems: Problem) -> Work[Any]:
    """A plan that turns the mutation down before any work: `problems` become the payload's `errors`."""

    async def refused(uow: UnitOfWork) -> Any:
        raise Rejected(list(problems))

    return refused


@dataclass(frozen=True)
class Answer(Generic[T]):
    """What a mutation's payload holds beside `errors` (name -> type, each null when refused), and how
    the use case's result fills it."""

    fields: Mapping[str, Any]
    values: Callable[[T], Mapping[str, Any]]


NOTHING: Answer[Any] = Answer({}, lambda _: {})


def node_answer(name: str, node: Any) -> Answer[Any]:
    """The payload holds the changed object as `name` (e.g. `task: Task`), built from the row."""
    return Answer({name: node | None}, lambda row: {name: node.from_row(row)})


def _pascal(snake: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in snake.split("_"))


def _payload_type(name: str, answer: Answer[Any], description: str | None) -> type:
    annotations = {**answer.fields, "errors": list[UserError]}
    namespace: dict[str, Any] = {"__annotations__": annotations, "__module__": __name__}
    namespace.update(dict.fromkeys(answer.fields))
    namespace["errors"] = strawberry.field(default_factory=list)
    return strawberry.type(type(name, (), namespace), description=description)


def _own_input(name: str, hint: Any) -> Any:
    """The mutation's own input type, `<Mutation>Input`: a subclass of a shared input (an ID) it takes,
    optional where that is."""
    optional = isinstance(hint, types.UnionType) and type(None) in hint.__args__
    shared = next(arg for arg in hint.__args__ if arg is not type(None)) if optional else hint
    if not isinstance(shared, type) or shared.__name__ == name:
        return hint
    own = strawberry.input(type(name, (shared,), {"__module__": shared.__module__}))
    return own | None if optional else own


def mutation(
    answer: Answer[Any] | type,
    *,
    description: str | None = None,
    payload_description: str | None = None,
    permission_classes: list[type[BasePermission]] | None = None,
) -> Callable[[Callable[..., Work[Any]]], Any]:
    """A Relay mutation from a plan: `plan(self, info, input)` says what to do as the unit of work it
    returns, and `mutate` runs it. The payload type is `<Mutation>Payload` holding `answer` and `errors`
    (or `answer` itself, a payload class with `of(result)`); an `input` typed with a shared input class
    gets its own `<Mutation>Input` subclass. Names follow the mutation's, so they cannot drift."""

    def decorate(plan: Callable[..., Work[Any]]) -> Any:
        name = _pascal(plan.__name__)
        if isinstance(answer, Answer):
            payload: Any = _payload_type(f"{name}Payload", answer, payload_description)
            build: Callable[[Any], Any] = lambda result: payload(**answer.values(result))  # noqa: E731
        else:
            payload, build = answer, answer.of  # type: ignore[attr-defined]
        signature = inspect.signature(plan)
        parameters = []
        for parameter in signature.parameters.values():
            hint = parameter.annotation
            if parameter.name == "input" and isinstance(hint, str):
                hint = eval(hint, plan.__globals__)  # a name the plan's module imported
            if parameter.name == "input":
                parameter = parameter.replace(annotation=_own_input(f"{name}Input", hint))
            parameters.append(parameter)

        async def resolve(self: Any, info: Info, **arguments: Any) -> Any:
            return await mutate(info, plan(self, info, **arguments), build, payload)

        resolve.__name__ = resolve.__qualname__ = plan.__name__
        resolve.__module__ = plan.__module__
        resolve.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=parameters, return_annotation=payload
        )
        return strawberry.mutation(resolve, description=description, permission_classes=permission_classes)

    return decorate


signed_in_mutation = partial(mutation, permission_classes=SIGNED_IN)
"""`mutation` for signed-in users only (graph/permissions.py `IsAuthenticated`)."""

operator_mutation = partial(mutation, permission_classes=OPERATORS)
"""`mutation` for operators only (graph/permissions.py `IsOperator`)."""
