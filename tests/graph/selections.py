"""Random selections for the differential tests of the compiled reads (graph/compiled/): connection
arguments (valid pages mostly, now and then one the checks refuse), connection selections, and both
paths' answers to one query (`GATEWAY_SQL_COMPILER` on, then off)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from services.keys import cost_budget
from services.resources import Resources
from tests.graphql_client import GraphQLClient

PAGE_INFO = ["hasNextPage", "hasPreviousPage", "startCursor", "endCursor"]
BAD_CURSORS = ["", "bm9wZQ", "W10", "x" * 300]


def keyed(draw: st.DrawFn, names: list[str], extra: list[str], *, alias: str = "a") -> str:
    """Some of `names` (some under an alias: fragments on different types merged in one selection need
    aliases of their own, or the document is invalid), then `extra`."""
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True))
    parts = [f"{alias}{index}: {name}" if draw(st.booleans()) else name for index, name in enumerate(chosen)]
    return " ".join(parts + extra)


def enum_list(name: str, values: list[str]) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(values), max_size=3).map(lambda chosen: f"{name}: [{', '.join(chosen)}]")


def string_list(name: str, values: list[str]) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(values), max_size=3).map(lambda chosen: f"{name}: {json.dumps(chosen)}")


@st.composite
def filter_input(draw: st.DrawFn, *fields: st.SearchStrategy[str]) -> str:
    """`filter: {...}` with some of the input's fields."""
    chosen = [draw(field) for field in fields if draw(st.booleans())]
    return f"filter: {{{', '.join(chosen)}}}"


@st.composite
def page_arguments(draw: st.DrawFn, cursors: list[str], orders: list[str], filters: st.SearchStrategy[str]) -> str:
    arguments: list[str] = []
    # Mostly valid pages; now and then one the checks refuse (both sizes, out of range, a foreign cursor).
    # The rare choices are the large draws: hypothesis starts from (and shrinks to) the smallest.
    size = st.sampled_from([2, 0, 1, 3, 5, 100])
    if draw(st.integers(0, 19)) == 19:
        size = st.sampled_from([101, -1, 2])
    sizes = draw(st.sampled_from(["first", "first", "first", "last", "last", "none", "both"]))
    for name in ("first", "last"):
        if sizes in (name, "both"):
            arguments.append(f"{name}: {draw(size)}")
    real = st.sampled_from(cursors or ["x"])
    cursor = st.sampled_from(BAD_CURSORS) if draw(st.integers(0, 19)) == 19 else real
    for name in ("after", "before"):
        if draw(st.integers(0, 2)) == 0:
            arguments.append(f'{name}: "{draw(cursor)}"')
    if draw(st.booleans()):
        arguments.append(draw(filters))
    if draw(st.booleans()):
        arguments.append(f"orderBy: {draw(st.sampled_from(orders))}")
    return f"({', '.join(arguments)})" if arguments else ""


@st.composite
def connection(
    draw: st.DrawFn, node: str, cursors: list[str], orders: list[str], filters: st.SearchStrategy[str]
) -> str:
    """A connection's arguments and selection (edges, nodes, pageInfo, totalCount, __typename)."""
    parts: list[str] = []
    if draw(st.booleans()):
        parts.append(f"edges {{ {'cursor ' if draw(st.booleans()) else ''}node {{ {node} }} }}")
    if draw(st.booleans()):
        parts.append(f"pageInfo {{ {keyed(draw, PAGE_INFO, [])} }}")
    if draw(st.booleans()):
        parts.append("totalCount")
    if draw(st.booleans()) or not parts:
        parts.append(f"nodes {{ {node} }}")
    if draw(st.booleans()):
        parts.append("__typename")
    arguments = draw(page_arguments(cursors, orders, filters))
    return f"{arguments} {{ {' '.join(parts)} }}"


async def both(client: GraphQLClient, resources: Resources, query: str, token: str) -> tuple[Any, Any]:
    """The compiled answer and the resolvers' answer to `query` (each with a fresh cost budget: a run of
    random queries would spend it)."""
    await _refill_budgets(resources)
    compiled = (await client.post(query, token=token)).json()
    resources.settings.sql_compiler = False
    try:
        await _refill_budgets(resources)
        resolved = (await client.post(query, token=token)).json()
    finally:
        resources.settings.sql_compiler = True
    return compiled, resolved


async def _refill_budgets(resources: Resources) -> None:
    spent = [key async for key in resources.redis.scan_iter(match=cost_budget("*"))]
    if spent:
        await resources.redis.delete(*spent)
