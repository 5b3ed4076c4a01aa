"""HTTP connections on a real `gateway serve` (cli/http.py): headers bounded in size and time, and
open connections bounded per client address, so no client holds the process's file handles or memory."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import create_database, drop_database, signing_keys_json
from tests.live import LiveServer, gateway_env, live_server

PER_ADDRESS = 5
HEADER_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def server(pg_server_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    database = create_database(pg_server_url, "gateway_http")
    env = gateway_env(
        database.replace("+asyncpg", ""),
        redis_url,
        tmp_path_factory.mktemp("http"),
        GATEWAY_JWT_PRIVATE_KEYS=signing_keys_json(),
        GATEWAY_MAX_CONNECTIONS_PER_ADDRESS=str(PER_ADDRESS),
        GATEWAY_HTTP_HEADER_TIMEOUT=str(HEADER_TIMEOUT),
    )
    try:
        with live_server(env, log=tmp_path_factory.mktemp("logs") / "http.log") as running:
            yield running
    finally:
        drop_database(pg_server_url, database)


def _port(server: LiveServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


async def _closed_by_server(reader: asyncio.StreamReader, within: float) -> bytes:
    """What the server sent before closing (b"" when it closed without a word, or reset the connection
    because the client's bytes were still unread)."""
    try:
        return await asyncio.wait_for(reader.read(), within)
    except ConnectionResetError:
        return b""


async def test_headers_over_64_kib_are_refused(server: LiveServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", _port(server))
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (70 * 1024) + b"\r\n")
        await writer.drain()
        answer = await _closed_by_server(reader, 5)
        # 431, unless the close overtook it (the rest of the client's header was still unread).
        assert answer == b"" or answer.startswith(b"HTTP/1.1 431"), answer[:80]
    finally:
        writer.close()


async def test_headers_that_never_finish_are_cut_off(server: LiveServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", _port(server))
    started = time.monotonic()
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        await writer.drain()
        assert await _closed_by_server(reader, HEADER_TIMEOUT + 5) == b""
        assert time.monotonic() - started >= HEADER_TIMEOUT - 0.2
    finally:
        writer.close()
    async with httpx.AsyncClient() as http:  # a well-behaved request is unaffected
        assert (await http.get(f"{server.url}/healthz")).status_code == 200


async def test_open_connections_are_capped_per_address(server: LiveServer) -> None:
    held = [await asyncio.open_connection("127.0.0.1", _port(server)) for _ in range(PER_ADDRESS)]
    try:
        await asyncio.sleep(0.2)
        reader, writer = await asyncio.open_connection("127.0.0.1", _port(server))
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert await _closed_by_server(reader, 5) == b""  # closed unanswered
        writer.close()
    finally:
        for _, held_writer in held:
            held_writer.close()
    await asyncio.sleep(0.3)
    async with httpx.AsyncClient() as http:  # the slots came back
        assert (await http.get(f"{server.url}/healthz")).status_code == 200
