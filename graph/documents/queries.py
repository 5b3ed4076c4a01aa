"""`viewer.documentSearch`: full-text search over the viewer's documents, best match first.

Cursors carry the hit's rank and id (keyset on `rank desc, id`), so a page boundary holds while documents
are uploaded; a cursor of another search answers a later page of this one, never an error or a leak."""

from __future__ import annotations

import base64
import html
import json
import uuid
from collections.abc import Awaitable, Callable

import strawberry
from strawberry.relay import PageInfo

from graph.connection import DEFAULT_PAGE, MAX_PAGE
from graph.context import Info
from graph.documents.types import DocumentFilterInput, DocumentNode, document_filter
from graph.errors import bad_input
from loaders.documents import DocumentFilter
from resolvers import document_search as search
from resolvers.problems import Problem

CURSOR_KIND = "dsearch"


@strawberry.type(description="A document that matches a search, how well, and where.")
class DocumentSearchHit:
    document: DocumentNode
    rank: float = strawberry.field(description="ts_rank_cd relevance; higher is better.")
    highlights: list[str] = strawberry.field(
        description="Fragments of the text around the matches: HTML-escaped text, each match in <mark></mark>."
    )


@strawberry.type
class DocumentSearchEdge:
    node: DocumentSearchHit
    cursor: str


@strawberry.type(description="A page of search hits, best first.")
class DocumentSearchConnection:
    edges: list[DocumentSearchEdge]
    page_info: PageInfo
    _total: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many documents match, all pages.")
    async def total_count(self) -> int:
        return await self._total()

    @strawberry.field
    def nodes(self) -> list[DocumentSearchHit]:
        return [edge.node for edge in self.edges]


def encode_cursor(rank: float, pk: uuid.UUID) -> str:
    raw = json.dumps([CURSOR_KIND, rank, str(pk)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, uuid.UUID]:
    try:
        kind, rank, pk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if kind != CURSOR_KIND or not isinstance(rank, int | float) or isinstance(rank, bool):
            raise ValueError("not a search cursor")
        return float(rank), uuid.UUID(pk)
    except Exception:
        raise bad_input("`after` is not a cursor of documentSearch.") from None


def marked(fragment: str) -> str:
    return html.escape(fragment).replace("\x02", "<mark>").replace("\x03", "</mark>")


def search_filter(filter: DocumentFilterInput | None) -> DocumentFilter:
    if filter is not None and filter.deleted:
        raise bad_input("`filter.deleted`: search covers documents that are not deleted.")
    return document_filter(filter)


async def document_search(
    info: Info,
    owner_id: uuid.UUID,
    query: str,
    first: int | None,
    after: str | None,
    filter: DocumentFilterInput | None,
) -> DocumentSearchConnection:
    problem: Problem | None = search.check_query(query)
    if problem is not None:
        raise bad_input(f"`query`: {problem.message}")
    size = DEFAULT_PAGE if first is None else first
    if not 0 <= size <= MAX_PAGE:
        raise bad_input(f"`first` must be between 0 and {MAX_PAGE}.")
    wanted = search_filter(filter)
    position = decode_cursor(after) if after is not None else None
    db = info.context.db
    hits, more = await search.search_documents(db, owner_id, query, wanted, first=size, after=position)
    edges = [
        DocumentSearchEdge(
            node=DocumentSearchHit(
                document=DocumentNode.from_row(hit.row),
                rank=hit.rank,
                highlights=[marked(fragment) for fragment in hit.highlights],
            ),
            cursor=encode_cursor(hit.rank, hit.row.id),
        )
        for hit in hits
    ]
    page_info = PageInfo(
        has_next_page=more,
        has_previous_page=after is not None,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )
    return DocumentSearchConnection(
        edges=edges, page_info=page_info, _total=lambda: search.count_matches(db, owner_id, query, wanted)
    )
