"""Child processes that never outlive their owner, and the detection of ones left behind.

The embedded servers run as direct children of the gateway process (not daemons), so that:
- on Linux the kernel signals them when their owner dies, even by SIGKILL (`PR_SET_PDEATHSIG`);
- a process found later on the data folder can be told apart: a live server whose parent is the
  owner recorded in `run/<name>.json` and whose binary is this install's is shared; anything else
  (owner gone, binary deleted by removing a virtualenv, another install's binary) is a leftover.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from gateway.embedded.errors import EmbeddedServerError

PR_SET_PDEATHSIG = 1


def die_with_parent(signum: int) -> Callable[[], None] | None:
    """A `preexec_fn` asking the kernel to send `signum` to the child when this thread's process dies.

    Linux delivers it when the *thread* that forked the child exits, so start servers from the main
    thread. Elsewhere there is no such call: leftovers are then replaced at the next start.
    """
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    # preexec_fn runs between fork and exec; arm() only calls prctl, getppid and kill, which are safe
    # there even if another thread held a lock at fork time.
    def arm() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)
        # The parent may have died between fork and prctl: then nobody would ever signal us.
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return arm


@dataclass(frozen=True)
class Binary:
    """Where a process's executable lives, as the kernel sees it."""

    path: str
    deleted: bool


def binary_of(process: psutil.Process) -> Binary | None:
    # psutil hides the kernel's " (deleted)" mark, which is exactly what tells a removed install.
    try:
        target = os.readlink(f"/proc/{process.pid}/exe")
    except FileNotFoundError:
        return None
    except OSError:
        try:
            return Binary(path=process.exe(), deleted=False)
        except psutil.Error:
            return None
    deleted = target.endswith(" (deleted)") and not os.path.exists(target)
    return Binary(path=target.removesuffix(" (deleted)") if deleted else target, deleted=deleted)


def same_file(left: str, right: Path) -> bool:
    try:
        return os.path.samefile(left, right)
    except OSError:
        return False


def process(pid: int | None) -> psutil.Process | None:
    if not pid:
        return None
    try:
        found = psutil.Process(pid)
        return found if found.is_running() and found.status() != psutil.STATUS_ZOMBIE else None
    except psutil.Error:
        return None


def named(found: psutil.Process, names: tuple[str, ...]) -> bool:
    try:
        return bool(found.name().startswith(names))
    except psutil.Error:
        return False


def working_in(directory: Path, names: tuple[str, ...]) -> list[psutil.Process]:
    """Live processes named like `names` whose working directory is `directory` (servers chdir there)."""
    target = os.path.realpath(directory)
    found = []
    for candidate in psutil.process_iter(["name"]):
        try:
            name = candidate.info["name"] or ""
            if (
                name.startswith(names)
                and os.path.realpath(candidate.cwd()) == target
                and candidate.status() != psutil.STATUS_ZOMBIE
            ):
                found.append(candidate)
        except (psutil.Error, OSError):
            continue
    return found


def stop(
    main: psutil.Process, signals: tuple[int, ...], *, timeout: float, helpers: Sequence[psutil.Process] = ()
) -> list[psutil.Process]:
    """Ask `main` to stop with each signal in turn (waiting `timeout` for each), then SIGKILL it and
    whatever `helpers` (e.g. PostgreSQL backends) are still alive. Returns those that survived (another
    user's processes we may not signal, or ones stuck in the kernel)."""
    try:
        for signum in signals:
            with contextlib.suppress(psutil.NoSuchProcess):
                main.send_signal(signum)
            try:
                main.wait(timeout)
                break
            except psutil.TimeoutExpired:
                continue
        for leftover in [main, *helpers]:
            with contextlib.suppress(psutil.NoSuchProcess):
                if leftover.is_running():
                    leftover.kill()
    except psutil.AccessDenied:
        pass
    _, alive = psutil.wait_procs([main, *helpers], timeout=5)
    return [found for found in alive if process(found.pid) is not None]


def refuse_survivors(survivors: list[psutil.Process], what: str, folder: Path) -> None:
    """Never start a second server next to one that would not stop: say what to do instead."""
    if survivors:
        pids = " ".join(str(found.pid) for found in survivors)
        raise EmbeddedServerError(
            f"a {what} left running on {folder} (pid {pids}) could not be stopped from here. Stop it "
            f"(`sudo kill {pids}`), or set GATEWAY_DATA_DIR to another folder, and start again."
        )


@dataclass(frozen=True)
class Claim:
    """Who runs the server on a data folder: its pid, the gateway process that owns it, its binary."""

    pid: int
    owner: int
    binary: str

    @classmethod
    def read(cls, path: Path) -> Claim | None:
        try:
            raw = json.loads(path.read_text())
            return cls(pid=int(raw["pid"]), owner=int(raw["owner"]), binary=str(raw["binary"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"pid": self.pid, "owner": self.owner, "binary": self.binary}))


def why_not_shared(server: psutil.Process, claim: Claim | None, binary: Path) -> str | None:
    """None when `server` is a live server of this install owned by a live gateway process (safe to
    share); otherwise the reason it is a leftover, for the log."""
    running = binary_of(server)
    if running is None:
        return "its executable cannot be read"
    if running.deleted:
        return f"it runs {running.path}, which was deleted (an install that was removed)"
    if not same_file(running.path, binary):
        return f"it runs {running.path}, not this install's {binary}"
    if claim is None or claim.pid != server.pid:
        return "no gateway process claims it"
    owner = process(claim.owner)
    if owner is None:
        return f"its owner (pid {claim.owner}) is gone"
    with contextlib.suppress(psutil.Error):
        if server.ppid() != claim.owner:
            return f"its owner (pid {claim.owner}) did not start it"
    return None


@contextlib.contextmanager
def locked(path: Path, *, timeout: float = 120) -> Iterator[None]:
    """One gateway process at a time inspects and starts the server of a data folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"another gateway process holds {path}") from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
