"""At most one credential mutation per operation.

Each of these mutations hashes or checks a password (argon2id: ~0.23 s of CPU and 64 MiB). Aliases
would let one request ask for any number of them, so an operation naming two is refused while the
document is validated: before anything runs, whichever fields, aliases or fragments carry them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationRule,
)

from graph.errors import RequestErrorCode

CREDENTIAL_MUTATIONS = frozenset({"register", "login", "changePassword", "deleteAccount", "resetPassword"})


class OneCredentialMutation(ValidationRule):
    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        if node.operation is not OperationType.MUTATION:
            return
        # Fields with one response key merge into one execution, so they count once.
        by_key: dict[str, FieldNode] = {}
        for field in self._credential_fields(node.selection_set, set()):
            by_key.setdefault((field.alias or field.name).value, field)
        if len(by_key) > 1:
            names = ", ".join(sorted({field.name.value for field in by_key.values()}))
            self.report_error(
                GraphQLError(
                    f"An operation may contain at most one of register, login, changePassword, deleteAccount "
                    f"and resetPassword; this one has {len(by_key)} ({names}). Send them as separate requests.",
                    list(by_key.values()),
                    extensions={"code": RequestErrorCode.BAD_USER_INPUT.value},
                )
            )

    def _credential_fields(self, selection_set: SelectionSetNode, spread: set[str]) -> Iterator[FieldNode]:
        """The operation's root fields that are credential mutations, through fragments at the root."""
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.name.value in CREDENTIAL_MUTATIONS:
                    yield selection
            elif isinstance(selection, InlineFragmentNode):
                yield from self._credential_fields(selection.selection_set, spread)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.context.get_fragment(name)
                if fragment is not None and name not in spread:  # a cycle is another rule's error
                    spread.add(name)
                    yield from self._credential_fields(fragment.selection_set, spread)
