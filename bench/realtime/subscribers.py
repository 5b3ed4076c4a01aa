"""Subscriber processes: each holds WebSockets open and records every frame (started with `spawn`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import aiohttp
import psutil

from bench.realtime.common import SUBSCRIBE, DeliveryFailure

# --------------------------------------------------------------------------------------------------
# Subscriber processes. The subscribers live in processes of their own, so reading 1,000 frames per
# message never delays the sender's clock (t0) and the load spreads over both cores. On Linux
# time.monotonic_ns() is CLOCK_MONOTONIC, one clock for every process, so receipt times compare with
# the sender's.


@dataclass
class SocketPlan:
    url: str
    subscriptions: list[int]  # global subscription numbers (also the graphql-transport-ws operation ids)


@dataclass
class WorkerPlan:
    token: str
    session_id: str
    after: str
    sockets: list[SocketPlan]
    open_concurrency: int = 32
    compress: int = 0  # permessage-deflate window bits offered (15, as browsers do), 0 offers none


class SubscriberWorker:
    """Holds its sockets open and records every frame as (receipt time, raw text); it parses nothing
    until the run is over, so a frame costs the client as little as possible while timing."""

    def __init__(self, plan: WorkerPlan) -> None:
        self.plan = plan
        self.frames: list[tuple[int, str]] = []
        self.events: list[str] = []  # socket-level trouble: refused inits, closes we did not ask for
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []
        self.readers: list[asyncio.Task[None]] = []
        self.stopping = False
        self.http: aiohttp.ClientSession | None = None

    async def open(self) -> dict[str, Any]:
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        gate = asyncio.Semaphore(self.plan.open_concurrency)
        started = time.monotonic()
        results = await asyncio.gather(
            *(self._open_one(plan, gate) for plan in self.plan.sockets), return_exceptions=True
        )
        failures = [f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)]
        return {
            "sockets": len(self.sockets),
            "failures": failures[:5],
            "failed": len(failures),
            "seconds": time.monotonic() - started,
        }

    async def _open_one(self, plan: SocketPlan, gate: asyncio.Semaphore) -> None:
        assert self.http is not None
        async with gate:
            ws = await self.http.ws_connect(
                plan.url,
                protocols=("graphql-transport-ws",),
                autoping=True,
                heartbeat=None,
                max_msg_size=0,
                compress=self.plan.compress,
                timeout=aiohttp.ClientWSTimeout(ws_close=5),
            )
            await ws.send_str(
                json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {self.plan.token}"}})
            )
            ack = await asyncio.wait_for(ws.receive(), 15)
            if ack.type != aiohttp.WSMsgType.TEXT or json.loads(ack.data).get("type") != "connection_ack":
                await ws.close()
                raise DeliveryFailure(
                    f"connection_init refused: {ack.type.name} {ack.data!r} (close code {ws.close_code})"
                )
            for number in plan.subscriptions:
                await ws.send_str(
                    json.dumps(
                        {
                            "id": str(number),
                            "type": "subscribe",
                            "payload": {
                                "query": SUBSCRIBE,
                                "variables": {"id": self.plan.session_id, "after": self.plan.after},
                            },
                        }
                    )
                )
            self.sockets.append(ws)
            self.readers.append(asyncio.create_task(self._read(ws, plan)))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse, plan: SocketPlan) -> None:
        append, clock, text = self.frames.append, time.monotonic_ns, aiohttp.WSMsgType.TEXT
        async for message in ws:
            if message.type is text:
                append((clock(), message.data))
            else:
                self.events.append(f"socket of subscriptions {plan.subscriptions[:3]}...: {message.type.name}")
        if not self.stopping:
            self.events.append(
                f"socket of subscriptions {plan.subscriptions[:3]}... closed by the server (code {ws.close_code})"
            )

    async def close(self) -> None:
        self.stopping = True
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        if self.http is not None:
            await self.http.close()

    def collected(self) -> dict[str, Any]:
        """Frames by subscription: [(receipt ns, seq, id, content)] in arrival order, and everything else."""
        deliveries: dict[int, list[tuple[int, int, str, str]]] = defaultdict(list)
        other: list[str] = []
        for received, raw in self.frames:
            message = json.loads(raw)
            kind = message.get("type")
            payload = message.get("payload") or {}
            if kind == "next" and not payload.get("errors"):
                node = payload["data"]["messageAdded"]
                deliveries[int(message["id"])].append((received, int(node["seq"]), node["id"], node["content"]))
            elif kind in ("ping", "pong"):
                continue
            else:
                other.append(raw[:500])
        return {"deliveries": dict(deliveries), "other": other, "events": self.events}


def worker_main(conn: Connection, plan: WorkerPlan) -> None:
    """The subscriber process: obeys ("open" | "count" | "check" | "collect" | "exit") over its pipe."""
    try:
        import uvloop  # comes with uvicorn[standard]; a cheaper client leaves more CPU to the servers

        uvloop.install()
    except ImportError:
        pass

    async def serve() -> None:
        worker = SubscriberWorker(plan)
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[str] = asyncio.Queue()

        def read_pipe() -> None:  # a thread: the pipe stays blocking (add_reader would make it not)
            while True:
                try:
                    command = conn.recv()
                except (EOFError, OSError):
                    command = "exit"
                loop.call_soon_threadsafe(inbox.put_nowait, command)
                if command == "exit":
                    return

        threading.Thread(target=read_pipe, name="pipe", daemon=True).start()
        try:
            while True:
                command = await inbox.get()
                if command == "open":
                    conn.send(await worker.open())
                elif command == "count":
                    conn.send({"frames": len(worker.frames), "events": len(worker.events)})
                elif command == "check":  # parse what arrived so far: anything but `next` data?
                    odd = [
                        raw[:300]
                        for _, raw in worker.frames
                        if (m := json.loads(raw)).get("type") != "next" or (m.get("payload") or {}).get("errors")
                    ]
                    conn.send(
                        {
                            "frames": len(worker.frames),
                            "odd": odd[:5],
                            "odd_count": len(odd),
                            "events": worker.events[:5],
                        }
                    )
                elif command == "collect":
                    await worker.close()
                    conn.send(worker.collected())
                elif command == "exit":
                    return
        finally:
            await worker.close()

    asyncio.run(serve())


class WorkerHandle:
    """The orchestrator's end of one subscriber process."""

    def __init__(self, plan: WorkerPlan) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=worker_main, args=(child, plan), daemon=True)
        self.process.start()
        child.close()
        self.ps = psutil.Process(self.process.pid)
        self.subscriptions = sum(len(s.subscriptions) for s in plan.sockets)

    async def ask(self, command: str, timeout: float) -> dict[str, Any]:
        self.conn.send(command)
        if not await asyncio.to_thread(self.conn.poll, timeout):
            raise SystemExit(f"subscriber process {self.process.pid} did not answer {command!r} in {timeout:.0f} s")
        return self.conn.recv()  # type: ignore[no-any-return]

    def cpu_s(self) -> float:
        try:
            times = self.ps.cpu_times()
        except psutil.NoSuchProcess:
            return 0.0
        return times.user + times.system

    def stop(self) -> None:
        if self.process.is_alive():
            with contextlib.suppress(OSError):
                self.conn.send("exit")
            self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
