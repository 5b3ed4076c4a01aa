"""The embedded servers this process started, and stopping them (clean shutdown, then force)."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from gateway.embedded import processes

log = logging.getLogger(__name__)


@dataclass
class Running:
    """A server this process started and must stop. `workdir` finds its helper processes (PostgreSQL
    backends) so none survives a forced stop."""

    name: str
    popen: subprocess.Popen[bytes]
    claim_path: Path
    workdir: Path
    process_names: tuple[str, ...]
    signals: tuple[int, ...]
    timeout: float

    def stop(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(psutil.NoSuchProcess):
                main = psutil.Process(self.popen.pid)
                helpers = [
                    found for found in processes.working_in(self.workdir, self.process_names) if found.pid != main.pid
                ]
                processes.stop(main, self.signals, timeout=self.timeout, helpers=helpers)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)
        claim = processes.Claim.read(self.claim_path)
        if claim is not None and claim.pid == self.popen.pid:
            self.claim_path.unlink(missing_ok=True)
        log.info("stopped embedded %s (pid %d)", self.name, self.popen.pid)


@dataclass(frozen=True)
class Server:
    """A kind of embedded server: its process names (to find its helpers), the signals that stop it, in
    turn (the first one also reaches it when this process dies), and how long each may take."""

    name: str
    process_names: tuple[str, ...]
    signals: tuple[int, ...]
    timeout: float


def launch(
    server: Server, command: list[str], *, log_path: Path, claim_path: Path, workdir: Path, **popen_options: Any
) -> subprocess.Popen[bytes]:
    """Start `command` (its binary first) as this process's child, its output appended to `log_path`; own it
    at once and claim it on disk, so other processes of this install share it and a leftover is recognised."""
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
    own(
        Running(
            name=server.name,
            popen=popen,
            claim_path=claim_path,
            workdir=workdir,
            process_names=server.process_names,
            signals=server.signals,
            timeout=server.timeout,
        )
    )
    processes.Claim(pid=popen.pid, owner=os.getpid(), binary=command[0]).write(claim_path)
    return popen


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
            log.exception("could not stop embedded %s", server.name)
