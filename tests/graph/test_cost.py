"""The static cost function alone: the schema and parsed documents, no database, no Redis. Each figure
below is worked out by hand from the rules in graph/cost.py."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLList, GraphQLNonNull, is_composite_type, parse

from gateway.settings import Settings
from graph.cost import CostCache, edge_types, is_connection, operation_cost
from graph.schema import build_schema

pytestmark = pytest.mark.unit  # needs neither PostgreSQL nor Redis

SCHEMA = build_schema(Settings())._schema

TOUR = """{
  viewer {
    firstName businessName
    chatSessions(first: 10) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { id title lastActivityAt
        messages(first: 20) { edges { node { role content timestamp } } } } }
    }
    documents(filter: { tags: ["gst"] }) { edges { node { title category tags extractedData { summary } } } }
    tasks(filter: { status: [COMPLETED] }) { edges { node { taskType status agent { name } } } }
  }
  agents { edges { node { name healthStatus capabilities { name description } } } }
}"""
SESSIONS_AND_MESSAGES = """{ viewer { chatSessions(first: 100) { edges { node {
  messages(first: 20) { edges { node { id content } } } } } } } }"""
ATTACK = """query($ids: [ID!]!) { nodes(ids: $ids) { ... on ChatSession { messages(first: 100) { nodes {
  session { ... on ChatSession { messages(first: 100) { nodes { id } } } } } } } } }"""


def cost(query: str, variables: dict[str, Any] | None = None, operation_name: str | None = None) -> int:
    return operation_cost(SCHEMA, parse(query), operation_name, variables)


def test_ordinary_reads_cost_far_less_than_the_default_limit() -> None:
    limit = Settings().max_query_cost
    # root 1 + viewer 1 + sessions (1 + 10) + pageInfo 1 + 10 x messages (1 + 20) + documents (1 + 50)
    # + 50 extractedData + tasks (1 + 50) + 50 agents + agents (1 + 50) + 50 x 10 capabilities
    assert cost(TOUR) == 977
    # root 1 + viewer 1 + sessions (1 + 100) + 100 x messages (1 + 20)
    assert cost(SESSIONS_AND_MESSAGES) == 2203
    assert cost(TOUR) * 10 <= limit and cost(SESSIONS_AND_MESSAGES) * 4 <= limit


def test_the_nested_nodes_attack_costs_what_it_builds() -> None:
    # root 1 + 10 x [node 1 + messages (1 + 100) + 100 x (session 1 + messages (1 + 100))]
    assert cost(ATTACK, {"ids": ["x"] * 10}) == 1 + 10 * (1 + 101 + 100 * 102)
    assert cost(ATTACK, {"ids": ["x"] * 10}) > Settings().max_query_cost


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("{ __typename }", 1),
        ("{ viewer { id email } }", 2),
        # a connection builds its whole page even when only totalCount is read
        ("{ viewer { chatSessions { totalCount } } }", 1 + 1 + 1 + 50),
        ("{ viewer { chatSessions(first: 5) { totalCount } } }", 1 + 1 + 1 + 5),
        ("{ viewer { chatSessions(last: 7) { pageInfo { hasNextPage } } } }", 1 + 1 + 1 + 7 + 1),
        ("{ viewer { chatSessions(first: 0) { nodes { messages { nodes { id } } } } } }", 1 + 1 + 1),
        # an edge and its node are one row: `edges { node }` costs what `nodes` costs
        (
            "{ viewer { chatSessions(first: 3) { edges { cursor node { messages(first: 2) { nodes { id } } } } } } }",
            1 + 1 + 1 + 3 + 3 * (1 + 2),
        ),
        (
            "{ viewer { chatSessions(first: 3) { nodes { messages(first: 2) { edges { node { id } } } } } } }",
            1 + 1 + 1 + 3 + 3 * (1 + 2),
        ),
        # selected twice, executed twice
        (
            (
                "{ viewer { chatSessions(first: 3) { nodes { messages(first: 2) { totalCount } } "
                "edges { node { messages(first: 2) { totalCount } } } } } }"
            ),
            1 + 1 + 1 + 3 + 2 * 3 * (1 + 2),
        ),
        # aliases are separate executions; a repeated field without an alias is merged
        ("{ a: viewer { id } b: viewer { id } }", 3),
        ("{ viewer { id } viewer { email } }", 2),
        ('{ node(id: "x") { id } }', 2),
        ('{ nodes(ids: ["a", "b", "a"]) { id } }', 1 + 3),
        # embedded lists of objects (JSON in the row) are estimated at 10
        ("{ agents(first: 2) { nodes { capabilities { name } } } }", 1 + 1 + 2 + 2 * 10),
    ],
    ids=lambda value: value if isinstance(value, int) else None,
)
def test_the_rules(query: str, expected: int) -> None:
    assert cost(query) == expected


def test_page_sizes_come_from_variables_and_their_defaults() -> None:
    query = """query($n: Int, $m: Int = 7) { viewer { chatSessions(first: $n) { nodes {
      messages(last: $m) { nodes { id } } } } } }"""
    assert cost(query, {"n": 4}) == 1 + 1 + 1 + 4 + 4 * (1 + 7)
    assert cost(query, {"n": 4, "m": 2}) == 1 + 1 + 1 + 4 + 4 * (1 + 2)
    assert cost(query, {}) == 1 + 1 + 1 + 50 + 50 * (1 + 7)  # absent: the default page
    assert cost(query, {"n": None, "m": None}) == 1 + 1 + 1 + 50 + 50 * (1 + 50)


def test_hostile_page_sizes_are_clamped_to_what_the_resolver_allows() -> None:
    query = "query($n: Int) { viewer { chatSessions(first: $n) { nodes { id } } } }"
    # the resolver refuses sizes outside 0..100, so no more than 100 rows can ever be built
    assert cost(query, {"n": 100_000}) == 1 + 1 + 1 + 100
    assert cost("{ viewer { chatSessions(first: 100000) { nodes { id } } } }") == 1 + 1 + 1 + 100
    assert cost(query, {"n": -5}) == 1 + 1 + 1
    # both (refused by the resolver): the larger bounds it
    assert cost("{ viewer { chatSessions(first: 2, last: 9) { totalCount } } }") == 1 + 1 + 1 + 9
    # not an Int (nor a 32-bit one): execution refuses the variables, nothing runs but the root
    assert cost(query, {"n": 2**40}) == 1
    assert cost(query, {"n": "lots"}) == 1


def test_id_lists_count_every_position_and_stop_at_the_maximum() -> None:
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    assert cost(query, {"ids": ["a"] * 10}) == 1 + 10
    assert cost(query, {"ids": []}) == 1
    assert cost(query, {"ids": ["a"] * 1000}) == 1 + 100  # more than 100 is refused by the resolver
    assert cost("query($a: ID!) { nodes(ids: [$a, $a]) { id } }", {"a": "x"}) == 1 + 2


def test_fragments_named_and_inline_are_followed() -> None:
    named = """query($ids: [ID!]!) { nodes(ids: $ids) { ...Session } }
      fragment Session on ChatSession { messages(first: 100) { nodes { ...Deep } } }
      fragment Deep on Message { session { ...Session2 } }
      fragment Session2 on ChatSession { messages(first: 100) { nodes { id } } }"""
    assert cost(named, {"ids": ["x"] * 10}) == cost(ATTACK, {"ids": ["x"] * 10})
    # a fragment on an interface applies to every type implementing it
    on_interface = "{ viewer { chatSessions(first: 2) { nodes { ...N } } } } fragment N on Node { id }"
    assert cost(on_interface) == 1 + 1 + 1 + 2
    # a fragment on another type does not apply
    other = "{ viewer { ... on Document { id } id } }"
    assert cost(other) == 2


def test_a_fragment_spread_twice_runs_once() -> None:
    query = """{ viewer { ...S ...S } } fragment S on User { chatSessions(first: 10) { nodes { id } } }"""
    assert cost(query) == 1 + 1 + 1 + 10


def test_an_abstract_position_costs_its_costliest_type() -> None:
    query = """query($ids: [ID!]!) { nodes(ids: $ids) {
      ... on ChatSession { messages(first: 3) { nodes { id } } }
      ... on User { chatSessions(first: 9) { nodes { id } } } } }"""
    assert cost(query, {"ids": ["x", "y"]}) == 1 + 2 * (1 + 1 + 9)


def test_fragments_reused_everywhere_are_costed_without_expanding_them() -> None:
    """Twelve levels of fragments, each spreading the next under two fields: 2^12 paths. The walk
    memoises per (type, selection), so it costs twelve levels of work, and the figure is exact."""
    levels = 12
    fragments = [
        f"fragment F{i} on ChatSession {{ messages(first: 1) {{ nodes {{ "
        f"a: session {{ ...F{i + 1} }} b: session {{ ...F{i + 1} }} }} }} }}"
        for i in range(levels)
    ]
    fragments.append(f"fragment F{levels} on ChatSession {{ id }}")
    query = '{ node(id: "x") { ...F0 } } ' + " ".join(fragments)
    per_level = 0  # cost of one ChatSession at the last level
    for _ in range(levels):
        per_level = 1 + 1 + 2 * (1 + per_level)  # messages (1 + 1 row) + two sessions
    assert cost(query) == 1 + 1 + per_level


def test_mutations_and_subscriptions_are_costed_too() -> None:
    send = """mutation($input: SendMessageInput!) { sendMessage(input: $input) {
      message { id session { messages(first: 100) { nodes { id } } } } errors { code } } }"""
    # root 1 + payload 1 + message 1 + session 1 + messages (1 + 100) + errors 10
    assert cost(send, {"input": {"sessionId": "x", "content": "hi"}}) == 1 + 1 + 1 + 1 + 101 + 10
    subscription = """subscription($id: ID!) { messageAdded(sessionId: $id) { session {
      messages(first: 100) { nodes { session { messages(first: 100) { nodes { id } } } } } } } }"""
    assert cost(subscription, {"id": "x"}) == 1 + 1 + 1 + 101 + 100 * (1 + 101)


def test_introspection_counts_one_object() -> None:
    assert cost("{ __schema { types { name fields { name type { name ofType { name } } } } } }") == 2
    assert cost('{ __type(name: "User") { fields { name } } }') == 2


def test_only_the_chosen_operation_counts() -> None:
    query = """query Small { viewer { id } }
      query Big { viewer { chatSessions(first: 100) { nodes { id } } } }"""
    assert cost(query, operation_name="Small") == 2
    assert cost(query, operation_name="Big") == 1 + 1 + 1 + 100
    assert cost(query, operation_name="Missing") == 1


def test_the_cache_keys_on_the_variables_that_change_the_cost() -> None:
    cache = CostCache(maxsize=4)
    document = parse(ATTACK)

    def cached(variables: dict[str, Any]) -> int:
        return cache.cost(SCHEMA, document, ATTACK, None, variables)

    assert cached({"ids": ["a"] * 10}) == cost(ATTACK, {"ids": ["a"] * 10})
    assert cached({"ids": ["b"] * 10}) == cost(ATTACK, {"ids": ["a"] * 10})  # same length, same cost
    assert cached({"ids": ["a"]}) == cost(ATTACK, {"ids": ["a"]})
    page = "query($n: Int) { viewer { chatSessions(first: $n) { nodes { id } } } }"
    paged = parse(page)
    assert cache.cost(SCHEMA, paged, page, None, {"n": 100}) == 103
    assert cache.cost(SCHEMA, paged, page, None, {"n": 1}) == 4


def _list_fields() -> list[tuple[str, str]]:
    found = []
    for type_ in SCHEMA.type_map.values():
        if type_.name.startswith("__") or not hasattr(type_, "fields") or not is_composite_type(type_):
            continue
        for name, field in type_.fields.items():
            inner, is_list = field.type, False
            while isinstance(inner, GraphQLNonNull | GraphQLList):
                is_list = is_list or isinstance(inner, GraphQLList)
                inner = inner.of_type
            if is_list and is_composite_type(inner):
                found.append((type_.name, name))
    return found


# Lists of objects stored inside one row (JSON columns): cheap, bounded by what was stored.
EMBEDDED = {
    ("MCPAgent", "capabilities"),
    ("MessageMetadata", "attachments"),
    ("MessageMetadata", "actions"),
    ("DocumentExtractedData", "entities"),
    # The provider registry is code, not rows: five providers, at most nine scopes each.
    ("Query", "integrationProviders"),
    ("IntegrationProviderInfo", "scopes"),
}


def test_every_list_of_objects_in_the_schema_is_costed_knowingly() -> None:
    """A new list field that loads rows must be a connection (paged, costed by its page) or an ID
    list; anything else is costed as a small embedded list, which would under-count a relation."""
    edges = edge_types(SCHEMA)
    unknown = []
    for type_name, field_name in _list_fields():
        type_ = SCHEMA.type_map[type_name]
        if is_connection(type_) and field_name in ("edges", "nodes"):
            continue
        if "ids" in type_.fields[field_name].args or (type_name, field_name) in EMBEDDED:  # type: ignore[attr-defined]
            continue
        if type_name.endswith("Payload") and field_name == "errors":
            continue  # UserErrors of one input
        unknown.append(f"{type_name}.{field_name}")
    assert unknown == []
    assert edges >= {"ChatSessionEdge", "MessageEdge", "TaskEdge", "DocumentEdge", "MCPAgentEdge", "IntegrationEdge"}
