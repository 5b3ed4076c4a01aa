"""The results table (and its JSON twin) of one run."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.load import LoadResult

MIB = 1024 * 1024


@dataclass
class Row:
    query: str  # nested | node
    target: str  # gateway | baseline
    concurrency: int
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    sql_per_request: float | None
    peak_rss_mib: float | None
    server_cpu_ms_per_request: float | None
    first_error: str | None = None

    @classmethod
    def of(
        cls,
        query: str,
        target: str,
        concurrency: int,
        result: LoadResult,
        *,
        sql_per_request: float | None,
        peak_rss: int | None,
        cpu_s: float | None,
    ) -> Row:
        sent = result.requests + result.errors
        return cls(
            query,
            target,
            concurrency,
            result.requests,
            result.errors,
            result.throughput,
            result.percentile_ms(50),
            result.percentile_ms(95),
            result.percentile_ms(99),
            result.mean_ms,
            sql_per_request,
            peak_rss / MIB if peak_rss else None,
            cpu_s * 1000 / sent if cpu_s is not None and sent else None,
            result.first_error,
        )


def _num(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def _ratio(value: float, base: float) -> str:
    if not base or math.isnan(value) or math.isnan(base):
        return "-"
    return f"{value / base:.2f}x"


HEADERS = (
    "query",
    "target",
    "conc",
    "requests",
    "err",
    "req/s",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "SQL/req",
    "peak RSS MiB",
    "srv CPU ms/req",
    "req/s vs base",
    "p50 vs base",
)


def table(rows: list[Row]) -> str:
    baselines = {row.query: row for row in rows if row.target == "baseline"}
    lines: list[tuple[str, ...]] = [HEADERS]
    for row in rows:
        base = baselines.get(row.query)
        lines.append(
            (
                row.query,
                row.target,
                str(row.concurrency),
                f"{row.requests:,}",
                str(row.errors),
                _num(row.rps),
                _num(row.p50_ms, 2),
                _num(row.p95_ms, 2),
                _num(row.p99_ms, 2),
                _num(row.sql_per_request, 2),
                _num(row.peak_rss_mib),
                _num(row.server_cpu_ms_per_request, 2),
                _ratio(row.rps, base.rps) if base else "-",
                _ratio(row.p50_ms, base.p50_ms) if base else "-",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADERS))]
    # Text columns left, figures right, the way a reader scans them.
    rendered = [
        "  ".join(
            cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths, strict=False))
        )
        for line in lines
    ]
    rendered.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(rendered)


def save(path: Path, rows: list[Row], context: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"context": context, "rows": [asdict(row) for row in rows]}, indent=2))
