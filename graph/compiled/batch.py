"""The compiled root fields of one operation, answered by one statement: `a: node(id: $x) {...}
b: node(id: $y) {...} viewer {...}` is one round trip and one statement, `SELECT (q1), (q2), (q3)`, each
field's statement a scalar subquery with its parameters renumbered after the ones before it.

graphql-core starts every root field (`execute_field`, synchronous) before it awaits any of them, so by
the time the first field's answer is awaited the batch holds all of them; that first await runs it, the
others wait for the same result. A single field runs its own statement as before.

Errors stay per field: when the one statement fails, each field's statement runs on its own, so a field
that fails alone takes only its own value (and what GraphQL nulls with it) down."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from graph.compiled.statement import PLACEHOLDER, Compiled
from loaders.session import RequestDb

log = logging.getLogger("gateway.graph.compiled")

KEPT = 256


def _renumbered(sql: str, offset: int) -> str:
    return PLACEHOLDER.sub(lambda match: f"${int(match.group(1)) + offset}", sql) if offset else sql


class _CombinedTexts:
    """The text of a combined statement, kept per tuple of its members' texts (the same few documents
    come again and again; renumbering every placeholder is not free)."""

    def __init__(self, size: int = KEPT) -> None:
        self.size = size
        self._texts: dict[tuple[tuple[str, int], ...], str] = {}

    def text(self, members: list[Compiled]) -> str:
        key = tuple((sql, len(params)) for sql, params in members)
        found = self._texts.get(key)
        if found is not None:
            return found
        parts = []
        offset = 0
        for sql, params in members:
            parts.append(f"({_renumbered(sql, offset)})")
            offset += len(params)
        text = f"SELECT {', '.join(parts)}"
        if len(self._texts) >= self.size:
            del self._texts[next(iter(self._texts))]  # the oldest
        self._texts[key] = text
        return text


COMBINED = _CombinedTexts()


def combined(members: list[Compiled]) -> Compiled:
    """One statement whose row holds each member's value, in order."""
    return COMBINED.text(members), tuple(value for _, params in members for value in params)


class RootBatch:
    """The statements (keys already bound) of one operation's compiled root fields."""

    def __init__(self, db: RequestDb) -> None:
        self._db = db
        self._members: list[Compiled] = []
        self._answers: asyncio.Future[list[Any]] | None = None

    @property
    def started(self) -> bool:
        return self._answers is not None

    def add(self, statement: Compiled) -> int:
        if self._answers is not None:
            raise RuntimeError("a field joined a batch that already ran")
        self._members.append(statement)
        return len(self._members) - 1

    async def value(self, index: int) -> Any:
        """Member `index`'s value (JSON as UTF-8 bytes, or None); raises what its statement raised."""
        if self._answers is None:
            # A task of its own, awaited through a shield: when a sibling fails, graphql-core cancels the
            # other fields; a statement cancelled midway would leave the request's connection unusable
            # for the fields still running, and the other members still need the answer.
            self._answers = asyncio.ensure_future(self._run())
        answers = await asyncio.shield(self._answers)
        # Taken out: the batch lives as long as graphql-core's execution context, which is freed by the
        # cycle collector only (its high thresholds let hundreds of answers of 460 KB pile up: 597 MiB).
        answer, answers[index] = answers[index], None
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def _run(self) -> list[Any]:
        members = self._members
        if len(members) > 1:
            try:
                return list(await self._db.row(*combined(members)))
            except Exception as error:
                # The class only: a driver error's text carries the statement and its parameters.
                log.warning("compiled root fields failed together (%s); one by one", type(error).__name__)
        answers: list[Any] = []
        for sql, params in members:
            try:
                answers.append(await self._db.value(sql, params))
            except Exception as error:
                answers.append(error)
        return answers
