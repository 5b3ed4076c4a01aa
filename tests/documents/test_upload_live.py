"""Uploading as a client does (multipart over HTTP to `gateway serve`), processed by the worker the
serve process runs: what a user gets back for each kind of file."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.agents.conftest import LiveEnv
from tests.documents import files
from tests.documents.flows import document_row, pk, upload, upload_response, uploaded, wait_until_processed
from tests.graphql_client import GraphQLClient


def stored_files(env: LiveEnv) -> list[Path]:
    root = Path(env.env["GATEWAY_DATA_DIR"]) / "uploads"
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


async def test_a_pdf_is_stored_processed_and_described(live: GraphQLClient, live_http: httpx.AsyncClient) -> None:
    user = await live.register()
    content = files.pdf([files.INVOICE_TEXT, "Second page: the warranty on parts lasts twelve months."])
    document = await uploaded(
        live_http,
        user,
        content,
        "../../etc/Invoice 2041.pdf",
        title=" Plumbing invoice ",
        tags=[" Invoices ", "ACME", "invoices"],
    )
    assert document["processingStatus"] == "PENDING"
    assert document["mimeType"] == "application/pdf"
    assert document["fileSize"] == len(content)
    assert document["originalFilename"] == "Invoice 2041.pdf"  # for display; the path is dropped
    assert document["title"] == "Plumbing invoice"
    assert document["tags"] == ["invoices", "acme"]

    done = await wait_until_processed(live, user, document["id"])
    assert done["processingStatus"] == "COMPLETED", done["processingError"]
    assert "Kitchen sink" in done["contentText"] and "warranty on parts" in done["contentText"]
    extracted = done["extractedData"]
    assert extracted["metadata"]["pageCount"] == 2
    assert extracted["metadata"]["language"] == "en"
    assert extracted["metadata"]["author"] == "Acme Accounts"
    assert extracted["keyTerms"]
    assert extracted["summary"]
    kinds = {entity["type"] for entity in extracted["entities"]}
    assert {"DATE", "MONEY", "EMAIL", "PHONE"} <= kinds
    for entity in extracted["entities"]:
        found = done["contentText"][entity["startOffset"] : entity["endOffset"]]
        assert found.strip() and 0 < entity["confidence"] <= 1
        if entity["type"] in ("EMAIL", "MONEY", "PHONE"):
            assert found == entity["value"]
    money = next(entity for entity in extracted["entities"] if entity["type"] == "MONEY")
    assert done["contentText"][money["startOffset"] : money["endOffset"]] == "$1,250.00"
    assert any(date.startswith("2026-03-01") for date in extracted["businessContext"]["dates"])
    assert any("Please pay" in item for item in extracted["businessContext"]["actionItems"])


@pytest.mark.parametrize(
    ("name", "content", "mime", "expected"),
    [
        (
            "letter.docx",
            files.docx_file(["Dear Hélène,", files.INVOICE_TEXT], [["Item", "Price"], ["Sink", "$200.00"]]),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ["Dear Hélène", "Sink\t$200.00"],
        ),
        (
            "lease.doc",
            files.doc_file("Lease agreement for 12 Smith Street.\nRent: $2,000.00 per month, due 1 March 2026."),
            "application/msword",
            ["Lease agreement for 12 Smith Street.", "Rent: $2,000.00 per month"],
        ),
        (
            "notes.txt",
            "Grüße aus München. Das Angebot gilt bis 31.03.2026 und kostet 1.200 EUR.".encode(),
            "text/plain",
            ["Grüße aus München"],
        ),
        (
            "contrat.txt",
            (
                "Contrat de location. Le locataire s'engage à payer le loyer mensuel avant le cinquième jour "
                "du mois. Fait à Genève, le 3 février 2026."
            ).encode("latin-1"),
            "text/plain",
            ["s'engage à payer", "Fait à Genève"],
        ),
        (
            "memo.txt",
            ("\ufeffMemo: the quarterly BAS is due 28 April 2026. Total £300.00.").encode("utf-16-le"),
            "text/plain",
            ["Memo: the quarterly BAS", "£300.00"],
        ),
    ],
)
async def test_every_supported_type_is_read_exactly(
    live: GraphQLClient, live_http: httpx.AsyncClient, name: str, content: bytes, mime: str, expected: list[str]
) -> None:
    user = await live.register()
    document = await uploaded(live_http, user, content, name)
    assert document["mimeType"] == mime
    done = await wait_until_processed(live, user, document["id"])
    assert done["processingStatus"] == "COMPLETED", done["processingError"]
    for fragment in expected:
        assert fragment in done["contentText"]
    assert "\x00" not in done["contentText"]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("setup.pdf", files.elf_executable()),
        ("report.docx", files.plain_zip()),
        ("photo.txt", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4),
        ("binary.txt", bytes(range(256)) * 16),
    ],
)
async def test_anything_else_is_unsupported_and_leaves_nothing(
    live: GraphQLClient,
    live_http: httpx.AsyncClient,
    live_pg: asyncpg.Connection,
    docs_env: LiveEnv,
    name: str,
    content: bytes,
) -> None:
    user = await live.register()
    before = len(stored_files(docs_env))
    payload = await upload(live_http, user, content, name)
    assert payload["document"] is None
    assert [(error["field"], error["code"]) for error in payload["errors"]] == [("input.file", "UNSUPPORTED_TYPE")]
    assert await live_pg.fetchval("SELECT count(*) FROM documents WHERE user_id = $1", user.pk) == 0
    assert len(stored_files(docs_env)) == before


async def test_an_upload_without_a_preflight_header_is_refused_as_csrf(
    live: GraphQLClient, live_http: httpx.AsyncClient, live_pg: asyncpg.Connection
) -> None:
    user = await live.register()
    refused = await upload_response(live_http, user, b"Hello there, plain text.", "a.txt", headers={})
    assert refused.status_code == 400
    assert "cross-site request forgery" in refused.json()["errors"][0]["message"]
    assert await live_pg.fetchval("SELECT count(*) FROM documents WHERE user_id = $1", user.pk) == 0
    other = await upload_response(
        live_http, user, b"Hello there, plain text.", "a.txt", headers={"X-Requested-With": "XMLHttpRequest"}
    )
    assert other.json()["data"]["uploadDocument"]["errors"] == []


async def test_the_seed_rules_are_refused_together_and_store_nothing(
    live: GraphQLClient, live_http: httpx.AsyncClient, live_pg: asyncpg.Connection
) -> None:
    user = await live.register()
    payload = await upload(
        live_http,
        user,
        b"MZ\x90\x00" + b"\x00" * 64,
        "x.pdf",
        tags=[f"tag{n}" for n in range(11)] + ["  "],
    )
    assert sorted((error["field"], error["code"]) for error in payload["errors"]) == [
        ("input.file", "UNSUPPORTED_TYPE"),
        ("input.tags", "TOO_MANY"),
        ("input.tags.11", "REQUIRED"),
    ]
    long_tag = await upload(live_http, user, b"A fine text file.", "a.txt", tags=["x" * 51])
    assert [(error["field"], error["code"]) for error in long_tag["errors"]] == [("input.tags.0", "TOO_LONG")]
    too_long = await upload(live_http, user, b"A fine text file.", "a.txt", title="t" * 256)
    assert [(error["field"], error["code"]) for error in too_long["errors"]] == [("input.title", "TOO_LONG")]
    assert await live_pg.fetchval("SELECT count(*) FROM documents WHERE user_id = $1", user.pk) == 0


async def test_anonymous_uploads_are_refused(live_http: httpx.AsyncClient) -> None:
    from tests.documents.flows import PREFLIGHT, multipart

    data, form_files = multipart(b"hello world text", "a.txt")
    body = (await live_http.post("/graphql", data=data, files=form_files, headers=PREFLIGHT)).json()
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_document_row_keeps_no_client_path(
    live: GraphQLClient, live_http: httpx.AsyncClient, live_pg: asyncpg.Connection
) -> None:
    user = await live.register()
    document = await uploaded(live_http, user, b"Plain notes about the shop.", "C:\\Users\\me\\..\\notes.txt")
    row = await document_row(live_pg, document["id"])
    assert row is not None
    assert row["file_path"] == f"documents/{user.pk}/{pk(document['id'])}"
    assert row["filename"] == f"{pk(document['id'])}.txt"
    assert row["original_filename"] == "notes.txt"
