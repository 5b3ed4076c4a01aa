"""Embedded PostgreSQL 16 from the pgserver wheel, run as a child of the gateway process.

pgserver's own lifecycle (pg_ctl, a daemonised postmaster, a pid list on disk as reference count) leaves
the server running whenever a holder dies without its atexit hook: a SIGKILL, uvicorn re-raising SIGTERM,
a removed virtualenv. So we use the wheel for its binaries and start `postgres` ourselves (see
docs/decisions.md, "Embedded servers").
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil

from gateway.embedded import processes
from gateway.embedded.errors import EmbeddedServerError
from gateway.embedded.running import Server, launch

log = logging.getLogger(__name__)

SYSTEM_USER = "pgserver"  # PostgreSQL refuses to run as root; pgserver's convention for that user
START_TIMEOUT = 60.0
# SIGINT is PostgreSQL's "fast" shutdown (sessions rolled back, checkpoint written); SIGQUIT the
# immediate one (crash recovery at the next start) if fast shutdown hangs.
STOP_SIGNALS = (signal.SIGINT, signal.SIGQUIT)
STOP_TIMEOUT = 15.0
SERVER = Server("PostgreSQL", "postgres", ("postgres",), STOP_SIGNALS, STOP_TIMEOUT, START_TIMEOUT)


def _bin() -> Path:
    from pgserver._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _account() -> dict[str, Any]:
    """Popen arguments that run PostgreSQL as the unprivileged system user when we are root."""
    if os.geteuid() != 0:
        return {}
    from pgserver.utils import ensure_user_exists

    entry = ensure_user_exists(SYSTEM_USER)
    assert entry is not None
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _open_permissions(pgdata: Path, account: dict[str, Any]) -> None:
    from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions

    binaries = _bin()
    ensure_prefix_permissions(pgdata)
    ensure_prefix_permissions(binaries)
    readable = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(binaries, readable | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(binaries.parent / "lib", readable)
    os.chown(pgdata, account["user"], account["group"])


def _postmaster_pid_file(pgdata: Path) -> list[str]:
    try:
        return (pgdata / "postmaster.pid").read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return []


def _replace_leftovers(pgdata: Path, claim_path: Path) -> Path | None:
    """Return the socket folder of a server this install shares with a live gateway process; stop
    anything else running on `pgdata` and forget its stale files."""
    lines = _postmaster_pid_file(pgdata)
    on_pgdata = processes.working_in(pgdata, ("postgres",))
    pids = {found.pid for found in on_pgdata}
    postmasters = [found for found in on_pgdata if _parent(found) not in pids]
    recorded = processes.process(int(lines[0])) if lines and lines[0].strip().isdigit() else None
    if recorded is not None and recorded.pid not in pids and processes.named(recorded, ("postgres",)):
        postmasters.append(recorded)
    claim = processes.Claim.read(claim_path)
    for server in postmasters:
        reason = processes.why_not_shared(server, claim, _bin() / "postgres")
        if reason is None and len(lines) >= 8 and lines[0].strip() == str(server.pid) and lines[7].strip() == "ready":
            log.info(
                "sharing the embedded PostgreSQL (pid %d) that gateway process %d started",
                server.pid,
                claim.owner if claim else 0,
            )
            return Path(lines[4].strip())
        log.warning(
            "stopping the PostgreSQL left running on %s (pid %d): %s", pgdata, server.pid, reason or "it is not ready"
        )
        helpers = [found for found in on_pgdata if found.pid != server.pid]
        survivors = processes.stop(server, STOP_SIGNALS, timeout=STOP_TIMEOUT, helpers=helpers)
        processes.refuse_survivors(survivors, "PostgreSQL", pgdata)
    if lines:
        if (pgdata / "postmaster.pid").exists():
            log.info("removing the stale %s (pid %s is not running)", pgdata / "postmaster.pid", lines[0])
            (pgdata / "postmaster.pid").unlink(missing_ok=True)
        _remove_stale_sockets(Path(lines[4].strip()) if len(lines) > 4 and lines[4].strip() else pgdata, pgdata)
    claim_path.unlink(missing_ok=True)
    return None


def _parent(found: psutil.Process) -> int | None:
    try:
        return int(found.ppid())
    except psutil.Error:
        return None


def _remove_stale_sockets(socket_dir: Path, pgdata: Path) -> None:
    # Only in folders of our own: a socket folder such as /tmp may hold another server's live socket.
    if socket_dir != pgdata and not socket_dir.name.startswith("gateway-pg-"):
        return
    for leftover in socket_dir.glob(".s.PGSQL.*"):
        leftover.unlink(missing_ok=True)


def _major(version_text: str) -> str:
    # "postgres (PostgreSQL) 16.2" -> "16"
    return version_text.strip().split()[-1].split(".")[0]


def _check_data_folder(pgdata: Path) -> None:
    version_file = pgdata / "PG_VERSION"
    if not version_file.exists():
        if any(pgdata.iterdir()):
            raise EmbeddedServerError(
                f"{pgdata} is not empty but holds no PostgreSQL database (an interrupted first start?). "
                "Remove that folder (or set GATEWAY_DATA_DIR to another one) and start again."
            )
        return
    theirs = version_file.read_text().strip()
    ours = _major(subprocess.run([str(_bin() / "postgres"), "-V"], check=True, capture_output=True, text=True).stdout)
    if theirs != ours:
        raise EmbeddedServerError(
            f"{pgdata} holds a PostgreSQL {theirs} database and this install runs PostgreSQL {ours}. "
            f"Move that folder away (dump it first with PostgreSQL {theirs}'s pg_dump if you need its data), "
            "or set GATEWAY_DATA_DIR to another folder, and start again."
        )


def _initdb(pgdata: Path, account: dict[str, Any]) -> None:
    log.info("initialising the embedded PostgreSQL data folder %s", pgdata)
    done = subprocess.run(
        [
            str(_bin() / "initdb"),
            "-D",
            str(pgdata),
            "--auth=trust",
            "--auth-local=trust",
            "--encoding=utf8",
            "-U",
            "postgres",
        ],
        check=False,
        capture_output=True,
        text=True,
        **account,
    )
    if done.returncode != 0:
        raise EmbeddedServerError(f"initdb failed for {pgdata}:\n{done.stderr[-2000:]}")


def _socket_dir(pgdata: Path, account: dict[str, Any]) -> Path:
    # Unix socket paths are limited to ~107 bytes; a deep data folder gets a short one in the temp dir.
    if len(str(pgdata / ".s.PGSQL.5432")) <= 100:
        return pgdata
    short = Path(tempfile.gettempdir()) / f"gateway-pg-{hashlib.sha256(bytes(pgdata)).hexdigest()[:12]}"
    short.mkdir(mode=0o700, exist_ok=True)
    if account:
        os.chown(short, account["user"], account["group"])
    return short


def _accepting(pgdata: Path, pid: int) -> bool:
    """Whether the postmaster `pid` says, in its pid file, that it accepts connections."""
    lines = _postmaster_pid_file(pgdata)
    return len(lines) >= 8 and lines[0].strip() == str(pid) and lines[7].strip() == "ready"


def _ensure_database(socket_dir: Path, database: str) -> None:
    if database == "postgres":
        return
    psql = [str(_bin() / "psql"), "-h", str(socket_dir), "-U", "postgres", "-d", "postgres", "-tA", "-c"]
    literal = database.replace("'", "''")
    found = subprocess.run(
        [*psql, f"SELECT 1 FROM pg_database WHERE datname = '{literal}'"], check=True, capture_output=True, text=True
    ).stdout.strip()
    if found != "1":
        identifier = database.replace('"', '""')
        subprocess.run([*psql, f'CREATE DATABASE "{identifier}"'], check=True, capture_output=True)
        log.info("created embedded database %s", database)


def start(data_dir: Path, database: str) -> str:
    """Start (or share, or replace a leftover of) the PostgreSQL under `data_dir`; return its URL."""
    pgdata = (data_dir / "pgdata").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    run = data_dir / "run"
    claim_path = SERVER.claim_path(run)
    with processes.locked(SERVER.lock_path(run)):
        socket_dir = _replace_leftovers(pgdata, claim_path)
        if socket_dir is None:
            account = _account()
            if account:
                _open_permissions(pgdata, account)
            _check_data_folder(pgdata)
            if not (pgdata / "PG_VERSION").exists():
                _initdb(pgdata, account)
            socket_dir = _socket_dir(pgdata, account)
            popen = launch(
                SERVER,
                run,
                [str(_bin() / "postgres"), "-D", str(pgdata), "-k", str(socket_dir), "-h", ""],
                workdir=pgdata,
                ready=lambda pid: _accepting(pgdata, pid),
                **account,
            )
            log.info("embedded PostgreSQL (pid %d) on %s", popen.pid, pgdata)
    _ensure_database(socket_dir, database)
    return f"postgresql+asyncpg://postgres@/{database}?host={quote(str(socket_dir))}"
