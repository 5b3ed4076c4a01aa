"""`viewer.documentSearch`: ranked hits with highlights, web-search syntax, filters, paging, owner-only,
and the seed's GIN index doing the work."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from sqlalchemy.dialects import postgresql

from graph.node import global_id
from loaders.documents import DocumentFilter
from resolvers.document_search import search_statement
from tests.documents.flows import search
from tests.graphql_client import GraphQLClient, SignedUp


async def add_document(
    pg: asyncpg.Connection,
    user: SignedUp,
    text: str,
    *,
    title: str | None = None,
    tags: list[str] | None = None,
    category: str | None = None,
    status: str = "completed",
    deleted: bool = False,
) -> str:
    document_id = uuid.uuid4()
    await pg.execute(
        """INSERT INTO documents (id, user_id, filename, original_filename, title, category, tags, mime_type,
             file_size, file_path, content_text, processing_status, deleted_at)
           VALUES ($1, $2, $3, $3, $4, $5, $6, 'text/plain', $7, $8, $9, $10, CASE WHEN $11 THEN now() END)""",
        document_id,
        user.pk,
        f"{document_id}.txt",
        title,
        category,
        tags,
        len(text),
        f"documents/{user.pk}/{document_id}",
        text,
        status,
        deleted,
    )
    return global_id("Document", document_id)


def titles(found: dict[str, Any]) -> list[str]:
    return [edge["node"]["document"]["title"] for edge in found["edges"]]


async def test_hits_are_ranked_and_highlighted(client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection) -> None:
    await add_document(
        pg, user, "The hot water system was replaced. Hot water now runs. Water pressure is fine.", title="many"
    )
    await add_document(pg, user, "A note that mentions water once, among other things like gas.", title="once")
    await add_document(pg, user, "Nothing relevant here at all.", title="none")
    found = await search(client, user, "water")
    assert titles(found) == ["many", "once"]
    assert found["totalCount"] == 2
    first = found["edges"][0]["node"]
    assert first["rank"] > found["edges"][1]["node"]["rank"] > 0
    assert any("<mark>water</mark>" in fragment.lower() for fragment in first["highlights"])


async def test_web_search_syntax_phrases_or_and_exclusion(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    await add_document(pg, user, "Replace the hot water system before winter.", title="phrase")
    await add_document(pg, user, "The water was hot and the system failed.", title="words")
    await add_document(pg, user, "Gas bill for the quarter.", title="gas")
    assert titles(await search(client, user, '"hot water"')) == ["phrase"]
    assert sorted(titles(await search(client, user, "hot -winter"))) == ["words"]
    assert sorted(titles(await search(client, user, "winter or gas"))) == ["gas", "phrase"]


async def test_the_title_counts_and_highlights_are_html_safe(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    await add_document(pg, user, "Body text about <script>alert(1)</script> quotes.", title="Quarterly quote")
    await add_document(pg, user, "Unrelated body.", title="Builder quote")
    found = await search(client, user, "quote")
    assert sorted(titles(found)) == ["Builder quote", "Quarterly quote"]
    for edge in found["edges"]:
        for fragment in edge["node"]["highlights"]:
            assert "<script>" not in fragment
            assert "<mark>" in fragment


async def test_filters_combine_with_the_query(client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection) -> None:
    await add_document(pg, user, "Invoice for plumbing.", title="a", tags=["invoices", "acme"], category="bills")
    await add_document(pg, user, "Invoice for painting.", title="b", tags=["invoices"], category="bills")
    await add_document(pg, user, "Invoice draft.", title="c", tags=["invoices", "acme"], category="drafts")
    await add_document(pg, user, "Invoice pending.", title="d", tags=["acme"], category="bills", status="pending")
    found = await search(client, user, "invoice", filter={"tags": ["ACME"], "category": ["bills"]})
    assert sorted(titles(found)) == ["a", "d"]
    found = await search(client, user, "invoice", filter={"processingStatus": ["COMPLETED"], "tags": ["acme"]})
    assert sorted(titles(found)) == ["a", "c"]


async def test_only_the_viewers_documents_that_are_not_deleted(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    other = await client.register()
    await add_document(pg, user, "Lease for the shop.", title="mine")
    await add_document(pg, user, "Lease that was deleted.", title="deleted", deleted=True)
    await add_document(pg, other, "Lease of someone else.", title="theirs")
    assert titles(await search(client, user, "lease")) == ["mine"]
    assert titles(await search(client, other, "lease")) == ["theirs"]


async def test_pages_follow_the_rank_with_cursors(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    for index in range(5):
        await add_document(pg, user, "receipt " * (index + 1), title=f"r{index}")
    seen: list[str] = []
    after = None
    while True:
        page = await search(client, user, "receipt", first=2, after=after)
        seen += titles(page)
        assert page["totalCount"] == 5
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["r4", "r3", "r2", "r1", "r0"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [({"query": "  "}, "query"), ({"query": "x", "first": 101}, "first"), ({"query": "x", "after": "bad"}, "after")],
)
async def test_bad_arguments_are_client_errors(
    client: GraphQLClient, user: SignedUp, arguments: dict[str, Any], message: str
) -> None:
    from tests.documents.flows import SEARCH

    body = await client.execute(SEARCH, arguments, token=user.token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert message in body["errors"][0]["message"]


async def test_the_search_uses_the_seeds_gin_index(user: SignedUp, pg: asyncpg.Connection) -> None:
    # Enough rows that the planner would rather not read them all; a rare word then goes to the index.
    await pg.execute(
        """INSERT INTO documents (user_id, filename, original_filename, mime_type, file_size, file_path,
             content_text, title, processing_status)
           SELECT $1, 'f' || n, 'f' || n, 'text/plain', 10, 'p' || n,
                  'common words about the business number ' || n || ' ' || md5(n::text), 'doc ' || n, 'completed'
           FROM generate_series(1, 3000) AS n""",
        user.pk,
    )
    await pg.execute("ANALYZE documents")
    statement = search_statement(user.pk, "zebra", DocumentFilter(), 11, None)
    sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    plan = "\n".join(row[0] for row in await pg.fetch("EXPLAIN " + sql))
    assert "idx_documents_content_text" in plan, plan
    assert "idx_documents_title_search" in plan, plan
    assert "Seq Scan on documents" not in plan, plan


async def test_the_statements_do_not_grow_with_the_page(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection, sql_counter: Any
) -> None:
    for index in range(25):
        await add_document(pg, user, f"statement number {index} of the ledger", title=f"l{index}")
    query = """query($first: Int) { viewer { documentSearch(query: "ledger", first: $first) {
      totalCount edges { node { rank highlights document { id title contentText extractedData { summary } } } } } } }"""
    counts = []
    for first in (2, 20):
        sql_counter.reset()
        data = await client.data(query, {"first": first}, token=user.token)
        assert len(data["viewer"]["documentSearch"]["edges"]) == first
        counts.append(sql_counter.count)
    assert counts[0] == counts[1], counts
