"""The seed's document processing logs: every move of the document lifecycle leaves a line (an outcome with its
error and how long the processing took since its claim), readable as `Document.processingLog`."""

from __future__ import annotations

from typing import Any

import asyncpg

from resolvers import document_lifecycle
from tests import factories as f
from tests.graphql_client import GraphQLClient, SignedUp

LOG = """query($id: ID!) { node(id: $id) { ... on Document {
  processingLog(first: 10) { totalCount edges { node { event status message durationMs loggedAt } } } } } }"""


async def test_each_processing_is_logged_with_its_outcome_and_duration(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection, resources: Any
) -> None:
    document = await f.document(pg, user.pk, status="pending")
    async with resources.sessionmaker() as db, db.begin():
        assert await document_lifecycle.claim(db, document) is not None
    async with resources.sessionmaker() as db, db.begin():
        assert await document_lifecycle.fail(db, document, "The PDF is encrypted.") is not None
    async with resources.sessionmaker() as db, db.begin():
        assert await document_lifecycle.reprocess(db, document, owner=user.pk) is not None
    async with resources.sessionmaker() as db, db.begin():
        assert await document_lifecycle.claim(db, document) is not None
    async with resources.sessionmaker() as db, db.begin():
        assert await document_lifecycle.complete(db, document, "text", {}) is not None

    data = await client.data(LOG, {"id": f.gid("Document", document)}, token=user.token)
    lines = [edge["node"] for edge in data["node"]["processingLog"]["edges"]]
    assert [(line["event"], line["status"]) for line in lines] == [
        ("CLAIMED", "PROCESSING"),
        ("FAILED", "FAILED"),
        ("REQUEUED", "PENDING"),
        ("CLAIMED", "PROCESSING"),
        ("COMPLETED", "COMPLETED"),
    ]
    assert lines[1]["message"] == "The PDF is encrypted."
    assert lines[1]["durationMs"] is not None and lines[4]["durationMs"] is not None
    assert all(line["durationMs"] is None for line in (lines[0], lines[2], lines[3]))
    other = await client.register()
    hidden = await client.data(LOG, {"id": f.gid("Document", document)}, token=other.token)
    assert hidden["node"] is None  # another user's document: no log either
