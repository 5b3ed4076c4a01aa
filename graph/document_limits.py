"""Limits on the GraphQL document itself, measured before graphql-core validates it.

A document is small in tokens but can be large in work: fragments spread twice at each of 20 levels
expand to a million selections (strawberry's depth and alias limiters re-walk every spread: 10 s for 200
tokens), 450 copies of `viewer { id }` make graphql-core's overlapping-fields rule quadratic (0.7 s),
a 1 MB comment costs 0.3 s of lexing and stays in the parser cache, and 30 aliases of 33 KB each over
10,000 objects answer with gigabytes. Here every fragment is measured once (memoised), so the check is
linear in the document, and a document over a limit is refused before any other rule runs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)
from graphql.error import GraphQLError as _GraphQLError
from graphql.validation.validate import ValidationAbortedError
from strawberry.types import ExecutionContext

from graph.errors import RequestErrorCode

MAX_NAME_LENGTH = 100  # aliases, fields, fragments, variables: a response key is repeated per object


@dataclass(frozen=True)
class DocumentLimits:
    max_depth: int
    max_aliases: int
    max_fields: int  # selections after fragments are expanded
    max_fields_per_set: int  # in one selection set, after its fragments are expanded
    max_repeats: int = 10  # of one response key in one selection set (graphql-core compares each pair)


@dataclass
class _Size:
    depth: int = 0
    fields: int = 0
    aliases: int = 0
    widest: int = 0  # the most fields in one selection set, expanded
    repeats: int = 0  # the most fields under one response key in one selection set, expanded


@dataclass
class _Measure:
    fragments: dict[str, FragmentDefinitionNode]
    memo: dict[str, _Size] = field(default_factory=dict)
    tops: dict[str, Counter[str]] = field(default_factory=dict)
    active: set[str] = field(default_factory=set)

    def selections(self, selection_set: SelectionSetNode | None) -> _Size:
        """The expanded size of a selection set; a fragment is measured once however often spread."""
        total = _Size()
        if selection_set is None:
            return total
        flat: Counter[str] = Counter()  # response keys landing in this very set (own and fragments')
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                inner = self.selections(selection.selection_set)
                introspection = selection.name.value.startswith("__")
                depth = 0 if introspection or selection.selection_set is None else 1 + inner.depth
                part = _Size(
                    depth=depth,
                    fields=1 + inner.fields,
                    aliases=(1 if selection.alias else 0) + inner.aliases,
                    widest=inner.widest,
                    repeats=inner.repeats,
                )
                flat[_key(selection)] += 1
            elif isinstance(selection, InlineFragmentNode):
                part = self.selections(selection.selection_set)
                flat.update(self.top_level(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                part = self.fragment(selection.name.value)
                flat.update(self.fragment_top_level(selection.name.value))
            else:
                continue
            total.depth = max(total.depth, part.depth)
            total.fields += part.fields
            total.aliases += part.aliases
            total.widest = max(total.widest, part.widest)
            total.repeats = max(total.repeats, part.repeats)
        total.widest = max(total.widest, sum(flat.values()))
        total.repeats = max(total.repeats, max(flat.values(), default=0))
        return total

    def fragment(self, name: str) -> _Size:
        if name in self.memo:
            return self.memo[name]
        definition = self.fragments.get(name)
        if definition is None or name in self.active:
            return _Size()  # unknown or cyclic: graphql-core's own rules report it
        self.active.add(name)
        try:
            size = self.selections(definition.selection_set)
        finally:
            self.active.discard(name)
        self.memo[name] = size
        return size

    def top_level(self, selection_set: SelectionSetNode) -> Counter[str]:
        keys: Counter[str] = Counter()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                keys[_key(selection)] += 1
            elif isinstance(selection, InlineFragmentNode):
                keys.update(self.top_level(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                keys.update(self.fragment_top_level(selection.name.value))
        return keys

    def fragment_top_level(self, name: str) -> Counter[str]:
        if name in self.tops:
            return self.tops[name]
        definition = self.fragments.get(name)
        if definition is None or f"top:{name}" in self.active:
            return Counter()
        self.active.add(f"top:{name}")
        try:
            keys = self.top_level(definition.selection_set)
        finally:
            self.active.discard(f"top:{name}")
        self.tops[name] = keys
        return keys


def _key(node: FieldNode) -> str:
    return node.alias.value if node.alias else node.name.value


def _names(document: DocumentNode) -> Iterator[str]:
    """Every name the client chose or wrote: aliases, fields, fragments, variables, arguments."""
    stack: list[Any] = [document]
    while stack:
        node = stack.pop()
        name = getattr(node, "name", None)
        if name is not None and hasattr(name, "value"):
            yield name.value
        alias = getattr(node, "alias", None)
        if alias is not None:
            yield alias.value
        for key in node.keys:
            if key in ("loc", "name", "alias"):
                continue
            value = getattr(node, key, None)
            if isinstance(value, tuple | list):
                stack.extend(item for item in value if hasattr(item, "keys"))
            elif hasattr(value, "keys") and not isinstance(value, dict):
                stack.append(value)


def problems(document: DocumentNode, limits: DocumentLimits) -> list[str]:
    """What is wrong with the document, in words a client can act on (empty when it is fine)."""
    found: list[str] = []
    longest = max((len(name) for name in _names(document)), default=0)
    if longest > MAX_NAME_LENGTH:
        found.append(f"Names and aliases can have at most {MAX_NAME_LENGTH} characters.")
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    measure = _Measure(fragments)
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        size = measure.selections(definition.selection_set)
        name = definition.name.value if definition.name else "anonymous"
        if size.depth > limits.max_depth:
            found.append(f"'{name}' exceeds maximum operation depth of {limits.max_depth}")
        if size.aliases > limits.max_aliases:
            found.append(f"{size.aliases} aliases found. Allowed: {limits.max_aliases}")
        if size.fields > limits.max_fields:
            found.append(
                f"'{name}' selects {size.fields} fields once its fragments are expanded; "
                f"at most {limits.max_fields} are allowed."
            )
        if size.repeats > limits.max_repeats:
            found.append(
                f"'{name}' selects one field {size.repeats} times in one selection set; at most "
                f"{limits.max_repeats} are allowed."
            )
        if size.widest > limits.max_fields_per_set:
            found.append(
                f"'{name}' selects {size.widest} fields in one selection set; at most "
                f"{limits.max_fields_per_set} are allowed."
            )
    return found


def rule_for(limits: DocumentLimits) -> type[ValidationRule]:
    """A validation rule that refuses an oversized document before graphql-core's own rules visit it
    (they would do the quadratic work first): it reports and aborts at the document node."""

    class DocumentLimitsRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.found = problems(context.document, limits)

        def enter_document(self, node: DocumentNode, *_: Any) -> None:
            if self.found:
                for message in self.found[1:]:
                    self.report_error(GraphQLError(message, [node]))
                raise ValidationAbortedError(self.found[0], [node])

    return DocumentLimitsRule


class DocumentRules:
    """The document's limits, applied by the gateway's one extension (graph/extensions.py): the text limit
    (refused before it is lexed, and so before it can enter the parser cache), the token limit (the
    parser's `max_tokens`) and the extra validation rules. Not strawberry's `MaxTokensLimiter`,
    `AddValidationRules` and a text limit as three extensions: strawberry wraps every hook of every
    extension anew for each request, ~15 us each (docs/decisions.md, "Small reads")."""

    def __init__(self, max_bytes: int, max_tokens: int, rules: tuple[type[ASTValidationRule], ...]) -> None:
        self.max_bytes = max_bytes
        self.max_tokens = max_tokens
        self.rules = rules

    def prepare(self, execution: ExecutionContext) -> None:
        """When the operation starts: the parser's token limit and the validation rules."""
        execution.parse_options["max_tokens"] = self.max_tokens
        execution.validation_rules = execution.validation_rules + self.rules

    def check_text(self, query: str | None) -> None:
        """Before the document is parsed: refuse a text over the limit."""
        if query is not None and len(query) > self.max_bytes:
            raise too_large_error(len(query), self.max_bytes)


def too_large_error(length: int, limit: int) -> GraphQLError:
    """The refusal of a document over the text limit, over HTTP and over sockets alike."""
    return _GraphQLError(
        f"The document has {length} characters; at most {limit} are allowed.",
        extensions={"code": RequestErrorCode.QUERY_TOO_LARGE.value, "limit": limit},
    )
