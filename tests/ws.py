"""A small graphql-transport-ws client for tests (the protocol browsers and the mobile app speak)."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection


class TransportSocket:
    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.inbox: dict[str, asyncio.Queue[dict[str, Any]]] = defaultdict(asyncio.Queue)
        self._reader = asyncio.create_task(self._read())
        self.closed = asyncio.get_running_loop().create_future()

    async def _read(self) -> None:
        try:
            async for raw in self.socket:
                message = json.loads(raw)
                await self.inbox[message.get("id", "")].put(message)
        except websockets.ConnectionClosed:
            pass
        finally:
            if not self.closed.done():
                self.closed.set_result(self.socket.close_code)

    async def subscribe(self, operation_id: str, query: str, variables: dict[str, Any] | None = None) -> None:
        await self.socket.send(
            json.dumps(
                {"id": operation_id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}}
            )
        )

    async def receive(self, operation_id: str, timeout: float = 10) -> dict[str, Any]:
        return await asyncio.wait_for(self.inbox[operation_id].get(), timeout)

    async def next_data(self, operation_id: str, timeout: float = 10) -> dict[str, Any]:
        message = await self.receive(operation_id, timeout)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message["payload"]
        return message["payload"]["data"]  # type: ignore[no-any-return]

    async def nothing_for(self, operation_id: str, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self.inbox[operation_id].get(), seconds)
        except TimeoutError:
            return True
        return False

    async def stop(self, operation_id: str) -> None:
        await self.socket.send(json.dumps({"id": operation_id, "type": "complete"}))


@asynccontextmanager
async def transport_ws(url: str, token: str | None, **connect: Any) -> AsyncIterator[TransportSocket]:
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"], **connect) as socket:
        payload = {"authorization": f"Bearer {token}"} if token else {}
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        ack = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert ack["type"] == "connection_ack", ack
        client = TransportSocket(socket)
        try:
            yield client
        finally:
            client._reader.cancel()
