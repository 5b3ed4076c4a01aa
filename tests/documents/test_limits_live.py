"""The 10 MiB rule on a live gateway: cut off while the body arrives, answered FILE_TOO_LARGE, nothing
left behind, and the server's memory does not grow by the file's size."""

from __future__ import annotations

import asyncio
import json
import select
import socket
from pathlib import Path

import asyncpg
import httpx
import psutil

from models.documents import MAX_FILE_SIZE
from tests.agents.conftest import LiveEnv
from tests.documents.flows import upload
from tests.graphql_client import GraphQLClient
from tests.live import LiveServer

MIB = 1024 * 1024


def stored(env: LiveEnv) -> int:
    root = Path(env.env["GATEWAY_DATA_DIR"]) / "uploads"
    return sum(1 for path in root.rglob("*") if path.is_file()) if root.exists() else 0


async def test_one_byte_over_10_mib_is_refused_without_holding_the_file_in_memory(
    live: GraphQLClient,
    live_http: httpx.AsyncClient,
    live_pg: asyncpg.Connection,
    docs_env: LiveEnv,
    docs_gateway: LiveServer,
) -> None:
    user = await live.register()
    content = b"a" * (MAX_FILE_SIZE + 1)
    server = psutil.Process(docs_gateway.process.pid)
    files_before = stored(docs_env)

    warm = await upload(live_http, user, content, "big.txt")  # buffers the server keeps reach their size
    assert [(error["field"], error["code"]) for error in warm["errors"]] == [("input.file", "FILE_TOO_LARGE")]
    before = server.memory_info().rss
    for _ in range(3):
        payload = await upload(live_http, user, content, "big.txt")
        assert payload["document"] is None
        assert [(error["field"], error["code"]) for error in payload["errors"]] == [("input.file", "FILE_TOO_LARGE")]
    grown = server.memory_info().rss - before
    assert grown < 4 * MIB, f"the server grew by {grown} bytes over three 10 MiB uploads"

    assert await live_pg.fetchval("SELECT count(*) FROM documents WHERE user_id = $1", user.pk) == 0
    assert stored(docs_env) == files_before


def raw_upload(server: LiveServer, token: str, *, declared: int | None, offered: int) -> tuple[int, str]:
    """A multipart upload over a plain socket that stops sending as soon as the server answers (an HTTP
    client insists on sending the whole body first): the status and body of the answer."""
    boundary = "x-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{{}}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{{}}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="0"; filename="x.txt"\r\n\r\n'
    ).encode()
    length = f"Content-Length: {declared}\r\n" if declared is not None else "Transfer-Encoding: chunked\r\n"
    request = (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Apollo-Require-Preflight: true\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n{length}\r\n"
    ).encode()
    chunk = b"c" * (64 * 1024)
    with socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1])), timeout=30) as sock:
        sock.sendall(request)
        for piece in [head] + [chunk] * (offered // len(chunk)):
            if select.select([sock], [], [], 0)[0]:
                break  # the server answered: stop sending
            try:
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if declared is None else piece)
            except OSError:
                break
        answer = b""
        try:
            while data := sock.recv(65536):
                answer += data
        except OSError:
            pass
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2].decode()


async def test_a_body_far_over_the_limit_is_cut_off_with_413(
    live: GraphQLClient, live_pg: asyncpg.Connection, docs_env: LiveEnv, docs_gateway: LiveServer
) -> None:
    user = await live.register()
    files_before = stored(docs_env)
    # Declared too large: refused before a byte of the body is read.
    status, body = await asyncio.to_thread(raw_upload, docs_gateway, user.token, declared=50 * MIB, offered=MIB)
    assert status == 413
    assert json.loads(body)["errors"][0]["extensions"]["code"] == "FILE_TOO_LARGE"
    # Chunked, no length declared: counted while it streams and cut off past the limit.
    status, body = await asyncio.to_thread(raw_upload, docs_gateway, user.token, declared=None, offered=50 * MIB)
    assert status == 413
    assert json.loads(body)["errors"][0]["extensions"]["code"] == "FILE_TOO_LARGE"
    assert await live_pg.fetchval("SELECT count(*) FROM documents WHERE user_id = $1", user.pk) == 0
    assert stored(docs_env) == files_before
