"""The gateway over HTTP (and the WebSocket warm-up)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from bench import queries
from bench.queries import WrongAnswer
from bench.realtime.common import CREATE_SESSION, SEND, SUBSCRIBE, DeliveryFailure

# --------------------------------------------------------------------------------------------------
# The gateway over HTTP.


class Gateway:
    def __init__(self, http: aiohttp.ClientSession, base_url: str, token: str | None = None) -> None:
        self.http = http
        self.url = f"{base_url}/graphql"
        self.ws_url = self.url.replace("http://", "ws://", 1)
        self.headers = {"content-type": "application/json"}
        if token:
            self.headers["authorization"] = f"Bearer {token}"

    async def call(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        started = time.monotonic()
        try:
            async with self.http.post(self.url, data=queries.body(query, variables), headers=self.headers) as response:
                raw = await response.read()
                if response.status != 200:
                    raise WrongAnswer(f"HTTP {response.status}: {raw[:300]!r}")
        except (aiohttp.ClientError, TimeoutError) as error:
            operation = " ".join(query.split())[:60]
            raise WrongAnswer(
                f"{self.url}: no answer to `{operation}...` after {time.monotonic() - started:.1f} s: "
                f"{type(error).__name__} {error}"
            ) from None
        return queries.data_of(raw)

    async def payload(self, query: str, variables: dict[str, Any], field_name: str) -> dict[str, Any]:
        data = (await self.call(query, variables))[field_name]
        if data.get("errors"):
            raise WrongAnswer(f"{field_name}: {data['errors']}")
        return data  # type: ignore[no-any-return]

    async def create_session(self, title: str) -> str:
        data = await self.payload(CREATE_SESSION, {"input": {"title": title}}, "createChatSession")
        return str(data["chatSession"]["id"])

    async def send(self, session_id: str, content: str) -> dict[str, Any]:
        data = await self.payload(SEND, {"input": {"sessionId": session_id, "content": content}}, "sendMessage")
        return data["message"]  # type: ignore[no-any-return]


@dataclass
class Sent:
    content: str
    started_ns: int  # just before the request left
    answered_ns: int  # when the HTTP response had arrived in full (t0 of the latency figures)
    seq: int
    id: str


async def warm_up_sockets(gateways: list[Gateway], token: str, session_id: str) -> None:
    """One subscription per server receives one message: the first-use costs of the WebSocket path
    (imports, caches) are paid before the idle RSS is read."""
    async with aiohttp.ClientSession() as http:
        sockets = []
        for gateway in gateways:
            ws = await http.ws_connect(gateway.ws_url, protocols=("graphql-transport-ws",))
            await ws.send_str(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
            ack = await asyncio.wait_for(ws.receive(), 10)
            if json.loads(ack.data).get("type") != "connection_ack":
                raise DeliveryFailure(f"warm-up socket refused: {ack.data!r}")
            await ws.send_str(
                json.dumps(
                    {
                        "id": "w",
                        "type": "subscribe",
                        "payload": {"query": SUBSCRIBE, "variables": {"id": session_id, "after": None}},
                    }
                )
            )
            sockets.append(ws)
        # No `after`: a message sent before the subscription is live would not arrive; retry until one does.
        for ws in sockets:
            for attempt in range(50):
                await gateways[0].send(session_id, f"warm-up {attempt}")
                try:
                    frame = await asyncio.wait_for(ws.receive(), 0.2)
                except TimeoutError:
                    continue
                if json.loads(frame.data).get("type") != "next":
                    raise DeliveryFailure(f"warm-up subscription answered {frame.data!r}")
                break
            else:
                raise DeliveryFailure("warm-up subscription received nothing in 50 attempts")
        for ws in sockets:
            await ws.close()
