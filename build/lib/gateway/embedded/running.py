"""The embedded servers this process started, and stopping them (clean shutdown, then force)."""

from __future__ import annotations

import atexit
import contextlib
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

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
