"""The gateway under test: started as a subprocess (or found, with `--url`), its RSS and its metrics."""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import threading
from pathlib import Path

import aiohttp
import httpx
import psutil

from bench.process import ServedProcess
from bench.process import free_port as free_port  # re-exported for the other benches

STATEMENTS = re.compile(r"^gateway_sql_statements_total(?:\{[^}]*\})?\s+([0-9.eE+-]+)\s*$", re.MULTILINE)


def gateway_executable() -> str:
    # The console script next to this interpreter, so the bench measures this checkout's venv.
    candidate = Path(sys.executable).with_name("gateway")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("gateway")
    if found is None:
        raise SystemExit("no `gateway` console script: `pip install -e .` in the venv first")
    return found


class GatewayProcess(ServedProcess):
    """`gateway serve` on a free loopback port, with a data folder of its own."""

    name = "`gateway serve`"

    def __init__(
        self, database_url: str, redis_url: str, log_path: Path, extra_env: dict[str, str] | None = None
    ) -> None:
        super().__init__(log_path)
        self._data_dir = tempfile.TemporaryDirectory(prefix="gateway-bench-")
        self._env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            # Keys generated for this run only; nothing of a developer's data folder is touched.
            "GATEWAY_DATA_DIR": self._data_dir.name,
            # The bench drives one heavy user as fast as the server goes: the per-user cost budget
            # (a limit on users, not a cost of the server) would refuse it within a minute.
            "GATEWAY_COST_BUDGET": "0",
            # Every simulated user signs up from 127.0.0.1: lift the per-address sign-up limit.
            "GATEWAY_REGISTER_PER_HOUR": "1000000",
            # e.g. a shared GATEWAY_JWT_PRIVATE_KEYS, so several processes accept each other's tokens.
            **(extra_env or {}),
        }

    def start(self, timeout_s: float = 90.0) -> None:
        command = [gateway_executable(), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        # Generous: it migrates before it listens.
        self.launch(command, self._env, self._healthy, timeout_s=timeout_s)

    def _healthy(self) -> bool:
        return httpx.get(f"{self.base_url}/healthz", timeout=1.0).status_code == 200

    def stop(self) -> None:
        super().stop()
        self._data_dir.cleanup()


def listener_pid(port: int) -> int | None:
    """The process listening on a loopback port (for `--url` without `--server-pid`)."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return None
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            return conn.pid
    return None


def _tree(pid: int) -> list[psutil.Process]:
    """The process and its children (a server may fork workers); empty once it is gone."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_rss(pid: int) -> int:
    total = 0
    for process in _tree(pid):
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


def tree_cpu_s(pid: int) -> float:
    total = 0.0
    for process in _tree(pid):
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


class ServerSampler:
    """Peak RSS (sampled from a thread: an asyncio task would share the load loop's timing) and the
    CPU seconds the server spent over a measurement."""

    def __init__(self, pid: int, interval_s: float = 0.05) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.peak = 0
        self.cpu_s = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ServerSampler:
        self.peak = tree_rss(self.pid)
        self.cpu_s = -tree_cpu_s(self.pid)
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, tree_rss(self.pid))
        self.cpu_s += tree_cpu_s(self.pid)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak = max(self.peak, tree_rss(self.pid))


async def sql_statements(client: aiohttp.ClientSession, base_url: str) -> float:
    async with client.get(f"{base_url}/metrics") as response:
        response.raise_for_status()
        text = await response.text()
    found = STATEMENTS.findall(text)
    if not found:
        raise SystemExit("/metrics has no gateway_sql_statements_total line")
    return sum(float(value) for value in found)
