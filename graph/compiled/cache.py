"""Compiled statements kept per selection: clients send the same few documents over and over (the parsed
document is itself cached, graph/extensions.py), and planning a selection and printing its SQL cost ~9% of
the headline read's server CPU. A statement depends only on the field's place in its document and on the
variables; the keys it reads with (parent and viewer) are parameters bound per request (graph/compiled/statement.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from graphql import FieldNode
from graphql.execution.collect_fields import FieldDetailsList
from graphql.execution.values import VariableValues
from graphql.pyutils import Undefined

from graph.compiled.statement import Answerable

KEPT = 1024


class CompiledCache:
    def __init__(self, size: int = KEPT) -> None:
        self.size = size
        # (id of the field's first node, ...) -> (that node, its statement or None when it does not compile).
        # The node is kept with its entry, so its id names no other node while the entry lives.
        self._entries: dict[tuple[Any, ...], tuple[FieldNode, Answerable | None]] = {}
        self.built = 0  # statements planned and printed (misses), for tests and profiles

    def __len__(self) -> int:
        return len(self._entries)

    def get(
        self,
        details: FieldDetailsList,
        place: tuple[str, ...],
        variables: VariableValues,
        build: Callable[[], Answerable | None],
    ) -> Answerable | None:
        try:
            # Coerced variables (strings, numbers, enums, lists, input objects) and the values sent (a
            # variable left to its default has none). The sources' signatures belong to the document,
            # which the node's id already names (and orjson cannot print them: keying on them made every
            # request with variables plan and print its statement again, 31% of a `node(id:)` request).
            sent = {
                name: None if source.value is Undefined else [source.value]
                for name, source in variables.sources.items()
            }
            printed = orjson.dumps([variables.coerced, sent], option=orjson.OPT_SORT_KEYS)
        except TypeError:
            self.built += 1
            return build()
        node = details[0].node
        key = (id(node), len(details), *place, printed)
        found = self._entries.get(key)
        if found is not None and found[0] is node:
            return found[1]
        compiled = build()
        self.built += 1
        if len(self._entries) >= self.size:
            del self._entries[next(iter(self._entries))]  # the oldest
        self._entries[key] = (node, compiled)
        return compiled


COMPILED = CompiledCache()
