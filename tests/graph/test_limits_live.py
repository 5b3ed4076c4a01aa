"""The body limit on a real `gateway serve`: a 50 MB body, declared or streamed chunked over a raw socket,
is answered 413 and the server's memory does not grow; a NUL in a subscription's argument is a coded
error on the socket. Uses a database of its own."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import psutil
import pytest

from tests.conftest import create_database, drop_database, signing_keys_json
from tests.live import LiveServer, gateway_env, live_server
from tests.ws import transport_ws

FIFTY_MB = 50 * 1024 * 1024
CHUNK = 64 * 1024
GROWTH_ALLOWED = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def server(pg_server_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    database = create_database(pg_server_url, "gateway_limits")
    env = gateway_env(
        database.replace("+asyncpg", ""),
        redis_url,
        tmp_path_factory.mktemp("limits"),
        GATEWAY_JWT_PRIVATE_KEYS=signing_keys_json(),
    )
    try:
        with live_server(env, log=tmp_path_factory.mktemp("logs") / "gateway.log") as running:
            yield running
    finally:
        drop_database(pg_server_url, database)


def rss(server: LiveServer) -> int:
    return int(psutil.Process(server.process.pid).memory_info().rss)


def send_huge_body(server: LiveServer, *, chunked: bool) -> tuple[int, bytes, int]:
    """POST 50 MB to /graphql over a raw socket while reading the answer: the status line, the body of
    the answer, and how many bytes the server let us send before it closed."""
    host, port = server.url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=30)
    framing = b"Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {FIFTY_MB}\r\n".encode()
    connection.sendall(
        b"POST /graphql HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n" + framing + b"\r\n"
    )
    sent = 0
    answer = bytearray()

    def read() -> None:
        try:
            while chunk := connection.recv(65536):
                answer.extend(chunk)
        except OSError:
            pass

    reader = threading.Thread(target=read)
    reader.start()
    payload = b"x" * CHUNK
    try:
        while sent < FIFTY_MB:
            connection.sendall(f"{CHUNK:x}\r\n".encode() + payload + b"\r\n" if chunked else payload)
            sent += CHUNK
        if chunked:
            connection.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the server closed the connection after refusing: the rest is never sent
    reader.join(timeout=30)
    connection.close()
    head, _, body = bytes(answer).partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1]) if head else 0
    return status, body, sent


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_50_mb_body_is_refused_without_growing_the_server(server: LiveServer, chunked: bool) -> None:
    for _ in range(3):  # warm up: the first requests allocate what any request needs
        assert httpx.post(f"{server.url}/graphql", json={"query": "{ viewer { id } }"}).status_code == 200
    before = rss(server)
    status, body, sent = send_huge_body(server, chunked=chunked)
    assert status == 413
    assert b"PAYLOAD_TOO_LARGE" in body
    time.sleep(0.5)
    assert rss(server) - before < GROWTH_ALLOWED
    assert sent < FIFTY_MB  # the server stopped taking the body long before its end
    # And the server goes on answering.
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}


async def test_a_nul_in_a_subscription_argument_is_a_coded_error(server: LiveServer) -> None:
    register = """mutation($input: RegisterInput!) { register(input: $input) { accessToken errors { code } } }"""
    async with httpx.AsyncClient() as http:
        reply = await http.post(
            f"{server.url}/graphql",
            json={
                "query": register,
                "variables": {
                    "input": {
                        "email": f"live-{time.time_ns()}@example.com",
                        "password": "Correct-Horse-9",
                        "firstName": "Ada",
                        "lastName": "Lovelace",
                    }
                },
            },
        )
    token = reply.json()["data"]["register"]["accessToken"]
    async with transport_ws(server.ws_url, token) as ws:
        await ws.subscribe(
            "1", "subscription($id: ID!) { messageAdded(sessionId: $id) { id } }", {"id": "Q2hhdFNlc3Npb246\x00"}
        )
        message = await ws.receive("1")
        assert message["type"] == "error", message
        [error] = message["payload"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "NUL" in error["message"]
