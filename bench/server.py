"""The gateway under test: started as a subprocess (or found, with `--url`), its RSS and its metrics."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

import aiohttp
import httpx
import psutil

STATEMENTS = re.compile(r"^gateway_sql_statements_total(?:\{[^}]*\})?\s+([0-9.eE+-]+)\s*$", re.MULTILINE)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gateway_executable() -> str:
    # The console script next to this interpreter, so the bench measures this checkout's venv.
    candidate = Path(sys.executable).with_name("gateway")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("gateway")
    if found is None:
        raise SystemExit("no `gateway` console script: `pip install -e .` in the venv first")
    return found


class GatewayProcess:
    """`gateway serve` on a free loopback port, its output in a log file (a full pipe would stall it)."""

    def __init__(
        self, database_url: str, redis_url: str, log_path: Path, extra_env: dict[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._data_dir = tempfile.TemporaryDirectory(prefix="gateway-bench-")
        self._log: IO[bytes] | None = None
        self._process: subprocess.Popen[bytes] | None = None
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

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self, timeout_s: float = 90.0) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        command = [gateway_executable(), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self._process = subprocess.Popen(command, env=self._env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s  # generous: it migrates before it listens
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise SystemExit(f"`gateway serve` exited with {self._process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"`gateway serve` not healthy after {timeout_s:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        self._data_dir.cleanup()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


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
