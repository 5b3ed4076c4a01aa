"""--profile: py-spy on both servers and a summary of its samples; the servers' logs in short."""

from __future__ import annotations

import math
import sys
from collections import Counter
from pathlib import Path

from bench.realtime.common import RESULTS_DIR
from bench.server import GatewayProcess


class Profiler:
    """`py-spy record` on both servers for the latency phase (with --profile; py-spy must be installed)."""

    def __init__(self, processes: list[GatewayProcess], seconds: float, stamp: str) -> None:
        import shutil
        import subprocess

        executable = str(Path(sys.executable).with_name("py-spy"))
        if not Path(executable).exists():
            executable = shutil.which("py-spy") or ""
        if not executable:
            raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
        self.outputs = [RESULTS_DIR / f"realtime-profile-server{n}-{stamp}.txt" for n in (1, 2)]
        self.children = [
            subprocess.Popen(
                [
                    executable,
                    "record",
                    "--pid",
                    str(process.pid),
                    "--duration",
                    str(math.ceil(seconds)),
                    "--rate",
                    "200",
                    "--format",
                    "raw",
                    "--output",
                    str(output),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for process, output in zip(processes, self.outputs, strict=True)
        ]

    def wait(self) -> list[str]:
        summaries = []
        for child, output in zip(self.children, self.outputs, strict=True):
            try:
                _, err = child.communicate(timeout=30)
            except Exception:
                child.kill()
                err = b"timed out"
            if child.returncode != 0 or not output.exists():
                summaries.append(f"py-spy failed on {output.name}: {err.decode(errors='replace')[-300:]}")
                continue
            summaries.append(summarize_profile(output))
        return summaries


IDLE_FRAMES = ("EpollSelector.select", "select", "poll")
AREAS = {  # first component of a py-spy frame's path -> what it is
    "graphql": "graphql-core (execution)",
    "strawberry": "strawberry",
    "uvicorn": "uvicorn",
    "websockets": "websockets (frames)",
    "starlette": "starlette",
    "asyncio": "asyncio loop",
    "sqlalchemy": "SQLAlchemy",
    "asyncpg": "asyncpg",
    "redis": "redis-py",
    "json": "json",
    "graph": "gateway code",
    "services": "gateway code",
    "loaders": "gateway code",
    "resolvers": "gateway code",
    "gateway": "gateway code",
    "models": "gateway code",
    "joserfc": "tokens (joserfc)",
    "cryptography": "tokens (joserfc)",
}


def _frame(frame: str) -> tuple[str, str]:
    """'name (dir/file.py:12)' -> ('name (dir/file.py)', 'dir')."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    return (f"{name} ({path})" if path else name), path.split("/", 1)[0]


TRUNK = (
    "run",
    "serve",
    "<module>",
    "Runner.run",
    "BaseEventLoop.run_until_complete",
    "BaseEventLoop.run_forever",
    "BaseEventLoop._run_once",
    "Handle._run",
)


def _trunk(name: str) -> bool:
    """The frames every sample of `gateway serve` shares (CLI and event loop)."""
    function, _, where = name.partition(" (")
    return function in TRUNK or where.startswith(("typer/", "click/", "gateway)"))


def summarize_profile(path: Path, top: int = 15) -> str:
    """From py-spy's collapsed stacks: where the busy samples went, by library (self time) and by
    function (inclusive, leaving out the trunk every sample shares)."""
    inclusive: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    total = idle = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(frame) for frame in stack.split(";")]
        if frames[-1][0].split(" (", 1)[0] in IDLE_FRAMES:
            idle += count
            continue
        total += count
        for name in {name for name, _ in frames}:
            inclusive[name] += count
        areas[AREAS.get(frames[-1][1], frames[-1][1] or "?")] += count
    if not total:
        return f"{path.name}: no busy samples"
    lines = [
        f"{path.name}: {total:,} busy samples at 200 Hz ({idle:,} more waiting in select)",
        "  self time by library: " + ", ".join(f"{name} {c / total * 100:.0f}%" for name, c in areas.most_common(10)),
    ]
    branch = [(name, c) for name, c in inclusive.most_common() if not _trunk(name)][:top]
    lines += [f"  inclusive {c / total * 100:5.1f}%  {name}" for name, c in branch]
    return "\n".join(lines)


def server_log_summary(processes: list[GatewayProcess]) -> str:
    """Per server: how many tracebacks its log holds and the last exception line."""
    lines = []
    for process in processes:
        try:
            text = process.log_path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        tracebacks = sum(1 for line in text if line.startswith("Traceback"))
        errors = [
            line
            for line in text
            if line
            and not line[0].isspace()
            and line.split(":", 1)[0].rsplit(".", 1)[-1].endswith(("Error", "Exception"))
        ]
        last = errors[-1][:300] if errors else "-"
        lines.append(f"  {process.log_path}: {tracebacks} tracebacks; last exception: {last}")
    return "server logs:\n" + "\n".join(lines)
