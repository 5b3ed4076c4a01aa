"""How every mutation runs its use case: one unit of work on the request's session, committed before the
payload is built (a failed commit is a GraphQL error, never a false success); a rejection rolls back and
becomes the payload's `errors`; the use case's after-commit hooks (events, jobs) run once it committed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from graph.context import Info
from graph.errors import UserError, user_errors
from resolvers.problems import Rejected
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
