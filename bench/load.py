"""Closed-loop load at a fixed concurrency, and latency statistics.

Closed loop (each worker sends its next request when the previous one is answered) measures what the
server sustains at that concurrency without queueing requests inside the load generator, so the
latencies are the server's, not a backlog's.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Call = Callable[[int], Awaitable[None]]  # the request number -> raises when the answer is wrong


@dataclass
class LoadResult:
    latencies_ns: list[int] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None
    elapsed_s: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies_ns)

    @property
    def throughput(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s else 0.0

    def percentile_ms(self, pct: float) -> float:
        """Nearest-rank percentile: an observed latency, never an interpolated one."""
        if not self.latencies_ns:
            return math.nan
        ordered = sorted(self.latencies_ns)
        rank = max(math.ceil(pct / 100 * len(ordered)) - 1, 0)
        return ordered[rank] / 1e6

    @property
    def mean_ms(self) -> float:
        return sum(self.latencies_ns) / len(self.latencies_ns) / 1e6 if self.latencies_ns else math.nan


async def run_load(call: Call, *, concurrency: int, duration_s: float) -> LoadResult:
    result = LoadResult()
    counter = iter(range(1 << 62))
    deadline = time.perf_counter() + duration_s

    async def worker() -> None:
        while time.perf_counter() < deadline:
            number = next(counter)
            started = time.perf_counter_ns()
            try:
                await call(number)
            except Exception as exc:
                result.errors += 1
                if result.first_error is None:
                    result.first_error = f"{type(exc).__name__}: {exc}"[:500]
                continue
            result.latencies_ns.append(time.perf_counter_ns() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    # Until the last in-flight request ended: the requests counted are those completed in this span.
    result.elapsed_s = time.perf_counter() - started
    return result
