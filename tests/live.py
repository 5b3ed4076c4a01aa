"""A real `gateway serve` process for tests that need the whole system: the CLI, sockets, uvicorn."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

GATEWAY = str(Path(sys.executable).with_name("gateway"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/graphql"


def gateway_env(database_url: str, redis_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GATEWAY_")}
    # Every live server of a run signs its users up from 127.0.0.1 into one Redis: the per-address
    # sign-up limit would be spent across tests. A test of that limit passes its own value.
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        GATEWAY_DATA_DIR=str(data_dir),
        GATEWAY_REGISTER_PER_HOUR="100000",
    )
    env.update(extra)
    return env


def spawn_server(env: dict[str, str], *, log: Path, timeout: float = 60) -> LiveServer:
    """Start `gateway serve` and wait until it answers /healthz; the caller stops it."""
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [GATEWAY, "serve", "--port", str(port)], env=env, stdout=output, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return LiveServer(url=url, process=process)
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop_server(process)
            raise RuntimeError(f"gateway serve did not start:\n{log.read_text()[-4000:]}")
        time.sleep(0.2)


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def live_server(env: dict[str, str], *, log: Path) -> Iterator[LiveServer]:
    running = spawn_server(env, log=log)
    try:
        yield running
    finally:
        stop_server(running.process)


def metric(server: LiveServer, name: str) -> float:
    """A gauge or counter of the server's `/metrics` (a counter by its name without `_total`)."""
    text = httpx.get(f"{server.url}/metrics", timeout=30).text
    found = re.search(rf"^{name}(?:_total)? ([0-9.e+]+)$", text, re.MULTILINE)
    assert found is not None, name
    return float(found.group(1))


async def live_subscribers_at_least(server: LiveServer, count: float) -> None:
    """Every subscription has been confirmed by Redis (the gauge counts them once they listen)."""
    for _ in range(600):
        if metric(server, "gateway_event_subscribers") >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} live subscriptions")
