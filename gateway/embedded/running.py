"""The embedded servers this process started, and stopping them (clean shutdown, then force)."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from gateway.embedded import processes
from gateway.embedded.errors import EmbeddedServerError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Server:
    """A kind of embedded server. Its files in the run folder are named after `stem`: `.lock` (one start
    at a time), `.json` (the claim: which process owns it), `.log` (its output). `process_names` find its
    helper processes; `signals` stop it, in turn, each given `stop_timeout` seconds (the first one also
    reaches it when this process dies)."""

    name: str
    stem: str
    process_names: tuple[str, ...]
    signals: tuple[int, ...]
    stop_timeout: float
    start_timeout: float

    def lock_path(self, run: Path) -> Path:
        return run / f"{self.stem}.lock"

    def claim_path(self, run: Path) -> Path:
        return run / f"{self.stem}.json"

    def log_path(self, run: Path) -> Path:
        return run / f"{self.stem}.log"


@dataclass
class Running:
    """A server this process started and must stop. `workdir` finds its helper processes (PostgreSQL
    backends) so none survives a forced stop."""

    server: Server
    popen: subprocess.Popen[bytes]
    claim_path: Path
    workdir: Path

    def stop(self) -> None:
        server = self.server
        if self.popen.poll() is None:
            with contextlib.suppress(psutil.NoSuchProcess):
                main = psutil.Process(self.popen.pid)
                helpers = [
                    found for found in processes.working_in(self.workdir, server.process_names) if found.pid != main.pid
                ]
                processes.stop(main, server.signals, timeout=server.stop_timeout, helpers=helpers)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)
        claim = processes.Claim.read(self.claim_path)
        if claim is not None and claim.pid == self.popen.pid:
            self.claim_path.unlink(missing_ok=True)
        log.info("stopped embedded %s (pid %d)", server.name, self.popen.pid)


def launch(
    server: Server, run: Path, command: list[str], *, workdir: Path, ready: Callable[[int], bool], **popen_options: Any
) -> subprocess.Popen[bytes]:
    """Start `command` (its binary first) as this process's child, its output appended to its log; own it at
    once and claim it on disk, so other processes of this install share it and a leftover is recognised;
    then wait until `ready(pid)` says it serves (EmbeddedServerError when it exits or takes too long)."""
    log_path = server.log_path(run)
    with log_path.open("ab") as output:
        popen = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            # Its own session: a terminal's Ctrl-C reaches the gateway, which stops it in order.
            start_new_session=True,
            preexec_fn=processes.die_with_parent(server.signals[0]),
            **popen_options,
        )
    own(Running(server, popen, server.claim_path(run), workdir))
    processes.Claim(pid=popen.pid, owner=os.getpid(), binary=command[0]).write(server.claim_path(run))
    deadline = time.monotonic() + server.start_timeout
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise EmbeddedServerError(
                f"{server.name} exited with status {popen.returncode} while starting; "
                f"its log {log_path} ends with:\n{_tail(log_path)}"
            )
        if ready(popen.pid):
            return popen
        time.sleep(0.05)
    raise EmbeddedServerError(f"{server.name} was not ready after {server.start_timeout:.0f} s; see {log_path}")


def _tail(path: Path, size: int = 2000) -> str:
    try:
        return path.read_bytes()[-size:].decode(errors="replace")
    except OSError:
        return ""


_owned: list[Running] = []
_registered = False


def own(server: Running) -> None:
    """Record a started server at once, so a start that fails half-way still stops it."""
    global _registered
    _owned.append(server)
    if not _registered:
        # The last line of defence for commands that exit without calling stop_all().
        atexit.register(stop_all)
        _registered = True


def stop_all() -> None:
    """Stop every embedded server this process started, newest first. Safe to call more than once."""
    while _owned:
        server = _owned.pop()
        try:
            server.stop()
        except Exception:  # one server failing to stop must not keep the other running
            log.exception("could not stop embedded %s", server.server.name)
