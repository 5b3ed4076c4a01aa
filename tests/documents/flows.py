"""The documents operations as a client sends them: multipart uploads (the GraphQL multipart request
spec), mutations, search, and waiting for processing."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import httpx

from graph.node import decode_global_id
from tests.graphql_client import GraphQLClient, SignedUp

ERRORS = "errors { field code message }"
DOCUMENT_FIELDS = """id filename originalFilename title category tags mimeType fileSize processingStatus
processingError uploadedAt processedAt deletedAt"""
EXTRACTED = """extractedData { summary keyTerms
  entities { type value confidence startOffset endOffset }
  metadata { pageCount language author createdDate modifiedDate }
  businessContext { dates actionItems } }"""
UPLOAD = f"""mutation($input: UploadDocumentInput!) {{
  uploadDocument(input: $input) {{ document {{ {DOCUMENT_FIELDS} }} {ERRORS} }} }}"""
PREFLIGHT = {"Apollo-Require-Preflight": "true"}


def _mutation(name: str, input_type: str) -> str:
    return (
        f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ document {{ {DOCUMENT_FIELDS} }} {ERRORS} }} }}"
    )


UPDATE = _mutation("updateDocument", "UpdateDocumentInput")
DELETE = _mutation("deleteDocument", "DeleteDocumentInput")
RESTORE = _mutation("restoreDocument", "RestoreDocumentInput")
REPROCESS = _mutation("reprocessDocument", "ReprocessDocumentInput")
READ = f"""query($id: ID!) {{ node(id: $id) {{ ... on Document {{ {DOCUMENT_FIELDS} contentText downloadUrl
  {EXTRACTED} }} }} }}"""
SEARCH = """query($query: String!, $first: Int, $after: String, $filter: DocumentFilter) {
  viewer { documentSearch(query: $query, first: $first, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { rank highlights document { id title } } } } } }"""


def pk(global_id: str) -> uuid.UUID:
    return decode_global_id(global_id)[1]  # type: ignore[return-value]


def multipart(
    content: bytes, filename: str, *, declared_type: str = "application/octet-stream", **fields: Any
) -> tuple[dict[str, str], dict[str, tuple[str, bytes, str]]]:
    """The form of a GraphQL multipart request: `operations`, `map`, then the file part."""
    operations = {"query": UPLOAD, "variables": {"input": {"file": None, **fields}}}
    data = {"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.input.file"]})}
    return data, {"0": (filename, content, declared_type)}


async def upload_response(
    http: httpx.AsyncClient,
    user: SignedUp,
    content: bytes,
    filename: str = "file.bin",
    *,
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> httpx.Response:
    data, files = multipart(content, filename, **fields)
    sent = {"Authorization": f"Bearer {user.token}", **(PREFLIGHT if headers is None else headers)}
    return await http.post("/graphql", data=data, files=files, headers=sent)


async def upload(
    http: httpx.AsyncClient, user: SignedUp, content: bytes, filename: str, **fields: Any
) -> dict[str, Any]:
    """The `uploadDocument` payload."""
    response = await upload_response(http, user, content, filename, **fields)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["uploadDocument"]  # type: ignore[no-any-return]


async def uploaded(
    http: httpx.AsyncClient, user: SignedUp, content: bytes, filename: str, **fields: Any
) -> dict[str, Any]:
    payload = await upload(http, user, content, filename, **fields)
    assert payload["errors"] == [], payload["errors"]
    return payload["document"]  # type: ignore[no-any-return]


async def mutate(client: GraphQLClient, document: str, user: SignedUp, **fields: Any) -> dict[str, Any]:
    data = await client.data(document, {"input": fields}, token=user.token)
    return next(iter(data.values()))  # type: ignore[no-any-return]


async def read(client: GraphQLClient, user: SignedUp, document_id: str) -> dict[str, Any] | None:
    return (await client.data(READ, {"id": document_id}, token=user.token))["node"]  # type: ignore[no-any-return]


async def wait_until_processed(
    client: GraphQLClient, user: SignedUp, document_id: str, timeout: float = 60
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await read(client, user, document_id)
        assert found is not None
        if found["processingStatus"] in ("COMPLETED", "FAILED"):
            return found
        assert asyncio.get_running_loop().time() < deadline, found
        await asyncio.sleep(0.2)


async def search(client: GraphQLClient, user: SignedUp, query: str, **arguments: Any) -> dict[str, Any]:
    data = await client.data(SEARCH, {"query": query, **arguments}, token=user.token)
    return data["viewer"]["documentSearch"]  # type: ignore[no-any-return]


async def document_row(pg: asyncpg.Connection, document_id: str) -> dict[str, Any] | None:
    row = await pg.fetchrow("SELECT * FROM documents WHERE id = $1", pk(document_id))
    return dict(row) if row is not None else None
