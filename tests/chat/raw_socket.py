"""A WebSocket client that speaks the handshake and writes frames by hand, and reads only when told: a
client that never reads what the gateway sends (its TCP receive window fills, the server's writes pause)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
from typing import Any
from urllib.parse import urlsplit


class RawSocket:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, url: str, protocol: str = "graphql-transport-ws") -> RawSocket:
        parts = urlsplit(url)
        sock = socket.socket()
        # A small receive buffer: the server's writes pause after a few frames nobody reads.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (parts.hostname, parts.port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Sec-WebSocket-Protocol: {protocol}\r\n\r\n"
            ).encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    async def send(self, message: dict[str, Any]) -> None:
        payload = json.dumps(message).encode()
        mask = os.urandom(4)
        size = len(payload)
        if size < 126:
            header = struct.pack("!BB", 0x81, 0x80 | size)
        elif size < 1 << 16:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, size)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, size)
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        self.writer.write(header + mask + masked)
        await self.writer.drain()

    async def receive(self, timeout: float = 10) -> dict[str, Any]:
        """The next text frame (only for the handshake's acknowledgement: the point is not to read)."""
        first, second = await asyncio.wait_for(self.reader.readexactly(2), timeout)
        size = second & 0x7F
        if size == 126:
            (size,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif size == 127:
            (size,) = struct.unpack("!Q", await self.reader.readexactly(8))
        data = await self.reader.readexactly(size)
        assert first & 0x0F == 0x1, first
        return json.loads(data)  # type: ignore[no-any-return]

    async def init(self, token: str) -> None:
        await self.send({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        ack = await self.receive()
        assert ack["type"] == "connection_ack", ack

    def close(self) -> None:
        self.writer.transport.abort()
