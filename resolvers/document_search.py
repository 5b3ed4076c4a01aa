"""Full-text search over the viewer's documents (the seed's GIN indexes on the title and the extracted
text): a page of hits ranked best first, with highlighted fragments, and their count."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, and_, func, literal_column, or_, select

from loaders.documents import DOCUMENT_COLUMNS, DocumentFilter, matching
from loaders.visibility import documents, visible_documents
from resolvers.problems import ErrorCode, Problem
from resolvers.validation import check_text

QUERY_MAX = 500
ENGLISH: Any = literal_column("'english'::regconfig")  # inlined: the planner matches the index expression


@dataclass(frozen=True)
class SearchHit:
    row: Row[Any]
    rank: float
    highlights: list[str]


def check_query(query: str) -> Problem | None:
    if not query.strip():
        return Problem("query", ErrorCode.REQUIRED, "Say what to search for.")
    return check_text("query", query, maximum=QUERY_MAX)


HEADLINE_OPTIONS = "StartSel=\x02, StopSel=\x03, MaxFragments=3, MaxWords=20, MinWords=6, FragmentDelimiter=\x1e"
HEADLINE_CHARS = 50_000  # highlights come from the start of a long text: its cost must stay bounded


def content_vector() -> Any:
    return func.to_tsvector(ENGLISH, documents.c.content_text)  # idx_documents_content_text


def _title_vector() -> Any:
    # The empty string inlined too: a bound parameter would not match the index expression.
    return func.to_tsvector(
        ENGLISH, func.coalesce(documents.c.title, literal_column("''"))
    )  # idx_documents_title_search


def _search_where(tsquery: Any, search_filter: DocumentFilter) -> list[Any]:
    """Matches of `tsquery` among the documents the filter keeps (search never covers deleted ones)."""
    return [or_(content_vector().op("@@")(tsquery), _title_vector().op("@@")(tsquery)), *matching(search_filter)]


def search_statement(
    user_id: uuid.UUID, query: str, search_filter: DocumentFilter, limit: int, after: tuple[float, uuid.UUID] | None
) -> Any:
    """The viewer's documents matching `query` (web-search syntax), best first (`ts_rank_cd`, the title
    weighted above the text), `limit` of them after the cursor, each with highlighted fragments."""
    tsquery = func.websearch_to_tsquery(ENGLISH, query)
    rank = func.ts_rank_cd(documents.c.search_vector, tsquery)  # stored: title weighted A, then the text
    ranked = (
        visible_documents(user_id, *DOCUMENT_COLUMNS, rank.label("rank"), tsquery.label("tsquery"))
        .where(*_search_where(tsquery, search_filter))
        .subquery("ranked")
    )
    page = select(ranked)
    if after is not None:
        after_rank: Any = literal_column(f"CAST({float(after[0])!r} AS real)")
        page = page.where(or_(ranked.c.rank < after_rank, and_(ranked.c.rank == after_rank, ranked.c.id > after[1])))
    page_sq = page.order_by(ranked.c.rank.desc(), ranked.c.id).limit(limit).subquery("page")
    text_of = select(documents.c.content_text).where(documents.c.id == page_sq.c.id).scalar_subquery()
    headline = func.ts_headline(
        ENGLISH, func.left(func.coalesce(text_of, ""), HEADLINE_CHARS), page_sq.c.tsquery, HEADLINE_OPTIONS
    ).label("headline")
    title_headline = func.ts_headline(
        ENGLISH, func.coalesce(page_sq.c.title, literal_column("''")), page_sq.c.tsquery, HEADLINE_OPTIONS
    ).label("title_headline")
    columns = [column for column in page_sq.c if column.name != "tsquery"]
    return select(*columns, headline, title_headline).order_by(page_sq.c.rank.desc(), page_sq.c.id)


def highlights(headline: str | None, title_headline: str | None) -> list[str]:
    """Fragments holding a match, as text with the matches between \\x02 and \\x03 (the graph marks them up)."""
    fragments = [fragment.strip() for fragment in (headline or "").split("\x1e") if "\x02" in fragment]
    if not fragments and title_headline and "\x02" in title_headline:
        fragments = [title_headline.strip()]
    return fragments


async def search_documents(
    db: Any,
    user_id: uuid.UUID,
    query: str,
    search_filter: DocumentFilter,
    *,
    first: int,
    after: tuple[float, uuid.UUID] | None,
) -> tuple[list[SearchHit], bool]:
    """A page of hits and whether more follow. `db` is the request's database (loaders/session.py)."""
    rows = await db.rows(search_statement(user_id, query, search_filter, first + 1, after))
    hits = [
        SearchHit(row=row, rank=float(row.rank), highlights=highlights(row.headline, row.title_headline))
        for row in rows[:first]
    ]
    return hits, len(rows) > first


async def count_matches(db: Any, user_id: uuid.UUID, query: str, search_filter: DocumentFilter) -> int:
    tsquery = func.websearch_to_tsquery(ENGLISH, query)
    statement = visible_documents(user_id, func.count()).where(*_search_where(tsquery, search_filter))
    rows = await db.rows(statement)
    return int(rows[0][0])
