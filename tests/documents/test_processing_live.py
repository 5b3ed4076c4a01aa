"""Processing pushed live: `documentUpdated` streams every move of a document to its owner only, and a
hostile file fails its document while the worker goes on with the next one."""

from __future__ import annotations

import asyncio

import httpx

from tests.documents import files
from tests.documents.flows import uploaded, wait_until_processed
from tests.graphql_client import GraphQLClient
from tests.live import LiveServer
from tests.ws import transport_ws

UPDATED = """subscription($documentId: ID) {
  documentUpdated(documentId: $documentId) { id title processingStatus processingError
    extractedData { metadata { pageCount } } } }"""
SETTLE = 0.3  # the gateway subscribes to Redis when the operation starts


async def test_processing_streams_pending_processing_completed_to_the_owner_only(
    live: GraphQLClient, live_http: httpx.AsyncClient, docs_gateway: LiveServer
) -> None:
    owner = await live.register()
    stranger = await live.register()
    async with (
        transport_ws(docs_gateway.ws_url, owner.token) as mine,
        transport_ws(docs_gateway.ws_url, stranger.token) as theirs,
    ):
        await mine.subscribe("all", UPDATED)
        await theirs.subscribe("all", UPDATED)
        await asyncio.sleep(SETTLE)
        document = await uploaded(live_http, owner, files.pdf([files.INVOICE_TEXT]), "invoice.pdf")
        seen = []
        while not seen or seen[-1]["processingStatus"] not in ("COMPLETED", "FAILED"):
            event = (await mine.next_data("all", timeout=30))["documentUpdated"]
            assert event["id"] == document["id"]
            seen.append(event)
        assert [event["processingStatus"] for event in seen] == ["PENDING", "PROCESSING", "COMPLETED"]
        assert seen[-1]["extractedData"]["metadata"]["pageCount"] == 1
        assert await theirs.nothing_for("all", 0.5)


async def test_one_documents_subscription_ignores_the_others(
    live: GraphQLClient, live_http: httpx.AsyncClient, docs_gateway: LiveServer
) -> None:
    owner = await live.register()
    first = await uploaded(live_http, owner, b"First notes, nothing special.", "first.txt")
    await wait_until_processed(live, owner, first["id"])
    async with transport_ws(docs_gateway.ws_url, owner.token) as socket:
        await socket.subscribe("one", UPDATED, {"documentId": first["id"]})
        await asyncio.sleep(SETTLE)
        await uploaded(live_http, owner, b"Second notes, also plain.", "second.txt")
        await live.data(
            "mutation($input: UpdateDocumentInput!) { updateDocument(input: $input) { errors { code } } }",
            {"input": {"documentId": first["id"], "title": "Renamed"}},
            token=owner.token,
        )
        event = (await socket.next_data("one", timeout=30))["documentUpdated"]
        assert (event["id"], event["title"]) == (first["id"], "Renamed")
        assert await socket.nothing_for("one", 0.5)


async def test_hostile_files_fail_with_a_reason_and_the_worker_keeps_serving(
    live: GraphQLClient, live_http: httpx.AsyncClient
) -> None:
    user = await live.register()
    hostile = {
        "corrupt.pdf": (files.corrupt_pdf(), "damaged"),
        "locked.pdf": (files.encrypted_pdf(), "password-protected"),
        "thick.pdf": (files.many_pages_pdf(1001), "1001 pages"),
        "bomb.docx": (files.zip_bomb_docx(120 << 20), "would unpack to"),
        "parts.docx": (files.many_parts_docx(1001), "parts"),
    }
    ids = {}
    for name, (content, _) in hostile.items():
        ids[name] = (await uploaded(live_http, user, content, name))["id"]
    after = await uploaded(live_http, user, b"An ordinary note after the hostile ones: pay the rent.", "after.txt")
    for name, (_, reason) in hostile.items():
        done = await wait_until_processed(live, user, ids[name])
        assert done["processingStatus"] == "FAILED", name
        assert reason in done["processingError"], (name, done["processingError"])
        assert done["contentText"] is None
    ordinary = await wait_until_processed(live, user, after["id"])
    assert ordinary["processingStatus"] == "COMPLETED"
    assert "pay the rent" in ordinary["contentText"]
