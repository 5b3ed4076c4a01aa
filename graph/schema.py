"""The schema: every domain's query and mutation roots merged into one graph."""

from __future__ import annotations

import logging

import strawberry
from graphql import GraphQLError, GraphQLObjectType
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext
from strawberry.types.arguments import StrawberryArgument
from strawberry.types.field import StrawberryField

from gateway.settings import Settings
from graph.agents import AgentsMutation, AgentsQuery, MCPAgentNode
from graph.assistant import AssistantMutation, AssistantQuery
from graph.chat import ChatMutation, ChatSessionNode, ChatSubscription, MessageNode
from graph.compiled.execution import CompilingExecutionContext
from graph.context import Info
from graph.documents import DocumentNode, DocumentsMutation, DocumentsSubscription
from graph.errors import typed_refusal
from graph.extensions import extensions
from graph.input_limits import guard_arguments
from graph.integrations import IntegrationNode, IntegrationsMutation, IntegrationsQuery, IntegrationsSubscription
from graph.live import HandingOver
from graph.node import Node, resolve_nodes
from graph.tasks import TaskNode, TasksMutation, TasksSubscription
from graph.users import UserNode, UsersMutation, UsersQuery

log = logging.getLogger("gateway.graph")
NODE_TYPES = [UserNode, ChatSessionNode, MessageNode, IntegrationNode, DocumentNode, MCPAgentNode, TaskNode]


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Fetch any object by its global ID; null if it does not exist or is not yours.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        found: Node | None = (await resolve_nodes(info, [id], argument="id"))[0]
        return found

    @strawberry.field(description="Fetch up to 100 objects by global ID, in order; null where unknown.")
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        return await resolve_nodes(info, ids)


Query = merge_types("Query", (UsersQuery, NodeQuery, AgentsQuery, IntegrationsQuery, AssistantQuery))
Mutation = merge_types(
    "Mutation",
    (
        UsersMutation,
        ChatMutation,
        AgentsMutation,
        TasksMutation,
        DocumentsMutation,
        IntegrationsMutation,
        AssistantMutation,
    ),
)
Subscription = merge_types(
    "Subscription", (ChatSubscription, TasksSubscription, DocumentsSubscription, IntegrationsSubscription)
)


class CachingNameConverter(NameConverter):
    """Strawberry converts every argument's name on every resolver call (a regex per argument); the
    names never change, so remember them. Measured: ~20 ms of a 100-session x 20-message read."""

    def __init__(self) -> None:
        super().__init__(auto_camel_case=True)
        self._argument_names: dict[int, str] = {}

    def from_argument(self, argument: StrawberryArgument) -> str:
        key = id(argument)
        name = self._argument_names.get(key)
        if name is None:
            name = self._argument_names[key] = super().from_argument(argument)
        return name


class GatewaySchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Strawberry logs every error at ERROR with its trace and the client's document: a bad ID or a
        too long argument is an answer, not an incident, and the document is untrusted text. Unexpected
        errors are logged once where they are masked (graph/extensions.py); one that reaches here
        unmasked is logged here."""
        for error in errors:
            original = error.original_error
            if original is not None and not isinstance(original, GraphQLError) and typed_refusal(error) is None:
                log.error("unexpected error at %s", error.path, exc_info=original)
            else:
                log.debug("refused: %.200r", error.message)


class GatewayExecutionContext(HandingOver, CompilingExecutionContext):
    """Reads the database can answer are compiled to one SQL statement (graph/compiled/); a subscription's
    event is executed once per (payload, operation, variables, viewer) (graph/shared_results.py); an opened
    subscription is handed over to the socket handler (graph/live.py)."""


def build_schema(settings: Settings) -> strawberry.Schema:
    schema = _schema(settings)
    # Every field with arguments checks them at the door (graph/input_limits.py). The fields are found
    # in the built schema, so none is missed; adding the check to a field needs one more build, once
    # per process (the fields are module-level and keep it).
    if guard_arguments(_fields_with_arguments(schema)):
        schema = _schema(settings)
    return schema


def _schema(settings: Settings) -> strawberry.Schema:
    return GatewaySchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=NODE_TYPES,
        extensions=extensions(settings),
        config=StrawberryConfig(name_converter=CachingNameConverter()),
        execution_context_class=GatewayExecutionContext,
    )


def _fields_with_arguments(schema: strawberry.Schema) -> list[StrawberryField]:
    fields: list[StrawberryField] = []
    for graphql_type in schema._schema.type_map.values():
        if isinstance(graphql_type, GraphQLObjectType):
            for graphql_field in graphql_type.fields.values():
                field = (graphql_field.extensions or {}).get("strawberry-definition")
                if graphql_field.args and isinstance(field, StrawberryField):
                    fields.append(field)
    return fields


def printed_schema() -> str:
    from strawberry.printer import print_schema

    return print_schema(build_schema(Settings())) + "\n"
