"""Extraction in a process of its own, so a hostile file cannot take the worker down with it: the
child has a memory cap (`RLIMIT_AS`) and a CPU cap, and is killed when it passes its time limit. The
children fork from a forkserver that imported the extraction libraries once, so a job pays a fork
(milliseconds), not the imports (a second)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import resource
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

MEMORY_LIMIT = 1536 * 1024 * 1024
_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(["services.extraction.preload", "services.extraction.pipeline"])


@dataclass(frozen=True)
class Outcome:
    text: str | None = None
    data: dict[str, Any] | None = None
    error: str | None = None


def _child(path: str, mime_type: str, seconds: float, out: Connection) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    cpu = int(seconds) + 2
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    from services.extraction.pipeline import extract

    try:
        result = extract(Path(path), mime_type)
    except MemoryError:
        result = {"error": "The file needs more memory to process than a document may use."}
    except RecursionError:
        result = {"error": "The file is nested too deeply to process."}
    except Exception as error:  # any other library failure is this file's failure, not the worker's
        result = {"error": f"The file could not be processed ({type(error).__name__})."}
    out.send_bytes(json.dumps(result, ensure_ascii=False).encode())
    out.close()


async def run_extraction(path: Path, mime_type: str, *, timeout: float) -> Outcome:
    """Extract in a child process; the outcome, an error on timeout, crash or memory exhaustion."""
    receiver, sender = _context.Pipe(duplex=False)
    process = _context.Process(target=_child, args=(str(path), mime_type, timeout, sender), daemon=True)
    await asyncio.to_thread(process.start)
    sender.close()
    try:
        ready = await asyncio.to_thread(receiver.poll, timeout)
        if not ready:
            return Outcome(error=f"Processing took longer than {timeout:g} seconds and was stopped.")
        try:
            payload = await asyncio.to_thread(receiver.recv_bytes)
        except EOFError:
            await asyncio.to_thread(process.join, 5)
            return Outcome(error=_died(process.exitcode))
        result = json.loads(payload)
        if "error" in result:
            return Outcome(error=str(result["error"]))
        return Outcome(text=str(result["text"]), data=dict(result["data"]))
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(process.join, 5)


def _died(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return "Processing stopped: the file exhausted the resources a document may use."
    return "Processing stopped unexpectedly."
