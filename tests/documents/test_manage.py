"""Managing documents in-process: update, delete, restore, reprocess, signed downloads, chat attachments,
the metadata cache, and the processing job run directly (timeouts)."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import asyncpg
import pytest

from graph.app import create_app
from graph.downloads import content_disposition
from jobs.context import WorkerDeps
from jobs.documents import process
from services.document_cache import entry_key
from services.download_links import download_path
from services.resources import Resources, close_resources, open_resources
from tests.documents import files
from tests.documents.flows import (
    DELETE,
    REPROCESS,
    RESTORE,
    UPDATE,
    document_row,
    mutate,
    pk,
    read,
    uploaded,
)
from tests.graphql_client import GraphQLClient, SignedUp


def problems(payload: dict[str, Any]) -> list[tuple[str | None, str]]:
    assert payload["document"] is None, payload
    return sorted((error["field"], error["code"]) for error in payload["errors"])


async def test_update_normalizes_and_refuses_with_nothing_written(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    document = await uploaded(client.http, user, b"Quote for the new shop fit-out.", "quote.txt", title="Quote")
    changed = await mutate(
        client, UPDATE, user, documentId=document["id"], title="  Shop quote ", category="Quotes", tags=["A", " b", "a"]
    )
    assert changed["errors"] == []
    assert (changed["document"]["title"], changed["document"]["category"], changed["document"]["tags"]) == (
        "Shop quote",
        "Quotes",
        ["a", "b"],
    )
    refused = await mutate(
        client, UPDATE, user, documentId=document["id"], title="x", tags=[f"t{n}" for n in range(11)]
    )
    assert problems(refused) == [("input.tags", "TOO_MANY")]
    row = await document_row(pg, document["id"])
    assert row is not None and (row["title"], row["tags"]) == ("Shop quote", ["a", "b"])
    # The list filters by tags as they are stored: " B " finds the document tagged "b", like the search does.
    listed = await client.data(
        "query($tags: [String!]) { viewer { documents(filter: {tags: $tags}) { nodes { id } } } }",
        {"tags": [" B ", "A"]},
        token=user.token,
    )
    assert [node["id"] for node in listed["viewer"]["documents"]["nodes"]] == [document["id"]]
    cleared = await mutate(client, UPDATE, user, documentId=document["id"], title="", tags=[])
    assert (cleared["document"]["title"], cleared["document"]["tags"]) == (None, [])


async def test_another_users_document_is_not_found_for_every_mutation(client: GraphQLClient, user: SignedUp) -> None:
    document = await uploaded(client.http, user, b"Private notes of the owner.", "notes.txt")
    stranger = await client.register()
    for mutation in (UPDATE, DELETE, RESTORE, REPROCESS):
        payload = await mutate(client, mutation, stranger, documentId=document["id"])
        assert problems(payload) == [("input.documentId", "NOT_FOUND")]
    assert await read(client, stranger, document["id"]) is None


async def test_delete_hides_and_restore_brings_back_within_30_days(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    document = await uploaded(client.http, user, b"Insurance policy schedule.", "policy.txt")
    deleted = await mutate(client, DELETE, user, documentId=document["id"])
    assert deleted["document"]["deletedAt"] is not None
    assert await read(client, user, document["id"]) is None
    listed = await client.data(
        "{ viewer { documents(filter: {deleted: true}) { nodes { id downloadUrl } } } }", token=user.token
    )
    assert listed["viewer"]["documents"]["nodes"] == [{"id": document["id"], "downloadUrl": None}]
    assert problems(await mutate(client, DELETE, user, documentId=document["id"])) == [
        ("input.documentId", "NOT_FOUND")
    ]
    restored = await mutate(client, RESTORE, user, documentId=document["id"])
    assert restored["errors"] == [] and restored["document"]["deletedAt"] is None
    assert (await read(client, user, document["id"])) is not None

    await mutate(client, DELETE, user, documentId=document["id"])
    await pg.execute("UPDATE documents SET deleted_at = now() - interval '31 days' WHERE id = $1", pk(document["id"]))
    assert problems(await mutate(client, RESTORE, user, documentId=document["id"])) == [
        ("input.documentId", "INVALID_STATE")
    ]


async def test_reprocess_runs_a_finished_document_again(
    client: GraphQLClient, user: SignedUp, worker_deps: WorkerDeps
) -> None:
    document = await uploaded(client.http, user, b"Supplier agreement, renewal due 1 July 2026.", "agreement.txt")
    refused = await mutate(client, REPROCESS, user, documentId=document["id"])
    assert problems(refused) == [("input.documentId", "INVALID_STATE")]  # still pending
    await process(worker_deps, pk(document["id"]))
    again = await mutate(client, REPROCESS, user, documentId=document["id"])
    assert again["errors"] == [] and again["document"]["processingStatus"] == "PENDING"
    finished = await process(worker_deps, pk(document["id"]))
    assert finished is not None and finished.processing_status == "completed"


async def test_a_file_that_takes_too_long_fails_and_the_next_one_still_runs(
    client: GraphQLClient, user: SignedUp, worker_deps: WorkerDeps
) -> None:
    slow = await uploaded(client.http, user, files.pdf([files.INVOICE_TEXT] * 400), "long.pdf")
    quick = dataclasses.replace(worker_deps, settings=worker_deps.settings.model_copy(update={"document_timeout": 0.5}))
    failed = await process(quick, pk(slow["id"]))
    assert failed is not None and failed.processing_status == "failed"
    assert "took longer than 0.5 seconds" in (failed.processing_error or "")
    after = await uploaded(client.http, user, b"A short note that processes quickly.", "short.txt")
    done = await process(worker_deps, pk(after["id"]))
    assert done is not None and done.processing_status == "completed"


async def test_download_links_are_signed_expiring_and_owner_bound(
    client: GraphQLClient, user: SignedUp, resources: Resources
) -> None:
    content = files.docx_file(["Signed contract."])
    document = await uploaded(client.http, user, content, "Contrat final é.docx")
    found = await read(client, user, document["id"])
    assert found is not None
    url = found["downloadUrl"]
    assert url.startswith("http://gateway.test/documents/")
    response = await client.http.get(url)
    assert response.status_code == 200
    assert response.content == content
    assert response.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"Contrat final e.docx\"; filename*=UTF-8''Contrat%20final%20%C3%A9.docx"
    )
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == "sandbox"

    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    stranger = await client.register()
    forged = {**query, "user": str(stranger.pk)}
    assert (await client.http.get(f"{parts.path}?{urlencode(forged)}")).status_code == 403
    tampered = {**query, "signature": "0" * 64}
    assert (await client.http.get(f"{parts.path}?{urlencode(tampered)}")).status_code == 403
    later = {**query, "expires": str(int(query["expires"]) + 3600)}
    assert (await client.http.get(f"{parts.path}?{urlencode(later)}")).status_code == 403
    expired = download_path(resources.box, pk(document["id"]), user.pk, now=1_000_000)
    assert (await client.http.get(expired)).status_code == 403
    # A valid signature of the stranger for the owner's document never resolves to its content.
    theirs = download_path(resources.box, pk(document["id"]), stranger.pk)
    assert (await client.http.get(theirs)).status_code == 404
    await mutate(client, DELETE, user, documentId=document["id"])
    assert (await client.http.get(url)).status_code == 404


def test_content_disposition_follows_rfc_6266() -> None:
    assert content_disposition('a "b";\\c é.pdf') == (
        "attachment; filename=\"a _b___c e.pdf\"; filename*=UTF-8''a%20%22b%22%3B%5Cc%20%C3%A9.pdf"
    )
    assert (
        content_disposition("发票.pdf")
        == "attachment; filename=\"document.pdf\"; filename*=UTF-8''%E5%8F%91%E7%A5%A8.pdf"
    )


async def test_uploaded_documents_attach_to_chat_messages(client: GraphQLClient, user: SignedUp) -> None:
    from tests.chat.flows import create_session, send

    document = await uploaded(client.http, user, b"Floor plan notes.", "plan.txt")
    session = await create_session(client, user, title="Fit-out")
    message = await send(client, user, session["id"], "See the plan", attachments=[document["id"]])
    attachment = message["metadata"]["attachments"][0]
    assert attachment["document"] == {"id": document["id"], "originalFilename": "plan.txt"}
    assert (attachment["type"], attachment["size"]) == ("text/plain", len(b"Floor plan notes."))


@pytest.fixture
async def second_gateway(settings: Any, database_url: str, redis_url: str) -> Any:
    """Another gateway's resources and app on the same PostgreSQL and Redis."""
    opened = await open_resources(settings, database_url=database_url, redis_url=redis_url)
    async with GraphQLClient.over_asgi(create_app(opened)) as connected:
        yield connected
    await close_resources(opened)


async def test_cached_metadata_is_never_stale_after_a_change_through_another_gateway(
    client: GraphQLClient, second_gateway: GraphQLClient, user: SignedUp, resources: Resources, sql_counter: Any
) -> None:
    document = await uploaded(client.http, user, b"Price list for 2026.", "prices.txt", title="Prices")
    assert (await read(client, user, document["id"]))["title"] == "Prices"  # type: ignore[index]
    assert await resources.redis.exists(entry_key(pk(document["id"])))
    sql_counter.reset()
    query = "query($id: ID!) { node(id: $id) { ... on Document { title tags } } }"
    cached = await client.data(query, {"id": document["id"]}, token=user.token)
    assert cached["node"]["title"] == "Prices"
    assert not [statement for statement in sql_counter.statements if "FROM documents" in statement]
    changed = await mutate(second_gateway, UPDATE, user, documentId=document["id"], title="Prices 2026")
    assert changed["errors"] == []
    fresh = await client.data(query, {"id": document["id"]}, token=user.token)
    assert fresh["node"]["title"] == "Prices 2026"
    await mutate(second_gateway, DELETE, user, documentId=document["id"])
    assert (await client.data(query, {"id": document["id"]}, token=user.token))["node"] is None


async def test_the_sweep_queues_again_what_lost_its_job(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection, worker_deps: WorkerDeps
) -> None:
    from jobs.documents import sweep_documents
    from services.document_queue import lease_key, queued_marker

    waiting = await uploaded(client.http, user, b"Waiting for a job that Redis lost.", "lost.txt")
    stuck = await uploaded(client.http, user, b"Claimed by a worker that died.", "stuck.txt")
    await pg.execute(
        "UPDATE documents SET uploaded_at = now() - interval '10 minutes' WHERE id = ANY($1::uuid[])",
        [pk(waiting["id"]), pk(stuck["id"])],
    )
    await pg.execute("UPDATE documents SET processing_status = 'processing' WHERE id = $1", pk(stuck["id"]))
    redis = worker_deps.redis
    await redis.delete(queued_marker(pk(waiting["id"])), lease_key(pk(stuck["id"])))
    await sweep_documents(worker_deps)
    assert await redis.exists(queued_marker(pk(waiting["id"])))
    assert await redis.exists(queued_marker(pk(stuck["id"])))
    row = await document_row(pg, stuck["id"])
    assert row is not None and row["processing_status"] == "pending"
    for document in (waiting, stuck):
        done = await process(worker_deps, pk(document["id"]))
        assert done is not None and done.processing_status == "completed"
    # A document being processed under a live lease is left alone.
    held = await uploaded(client.http, user, b"Being processed right now.", "held.txt")
    await pg.execute(
        "UPDATE documents SET uploaded_at = now() - interval '10 minutes', processing_status = 'processing' "
        "WHERE id = $1",
        pk(held["id"]),
    )
    await worker_deps.document_queue.take_lease(pk(held["id"]))
    await sweep_documents(worker_deps)
    row = await document_row(pg, held["id"])
    assert row is not None and row["processing_status"] == "processing"
    await pg.execute("UPDATE documents SET processing_status = 'completed' WHERE id = $1", pk(held["id"]))
