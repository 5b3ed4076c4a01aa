"""The report: the tables printed at the end of a run."""

from __future__ import annotations

import argparse
import math
import os
from typing import Any

from bench.realtime.phases import Outcome


def _n(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def others_named(cpu: dict[str, float]) -> str:
    """The biggest of the others, e.g. 'postgres 60%, redis-server 8%'."""
    named = [(key.split(":", 1)[1], value) for key, value in cpu.items() if key.startswith("other:")]
    return ", ".join(f"{name} {value / cpu['wall_s'] * 100:.0f}%" for name, value in named) or "-"


def others(cpu: dict[str, float]) -> float:
    """CPU seconds of everything but the two servers and this client: PostgreSQL, Redis, the rest."""
    return max(cpu["machine_busy_s"] - cpu["server_cpu_s"] - cpu["client_cpu_s"], 0.0)


def render(headers: tuple[str, ...], lines: list[tuple[str, ...]], text_columns: int = 1) -> str:
    table = [headers, *lines]
    widths = [max(len(line[i]) for line in table) for i in range(len(headers))]
    rendered = [
        "  ".join(
            cell.ljust(w) if i < text_columns else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=False))
        )
        for line in table
    ]
    rendered.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(rendered)


def report(outcome: Outcome, args: argparse.Namespace) -> str:
    f = outcome.figures
    out: list[str] = []
    check = f["delivery_check"]
    lat_cpu = f["latency_cpu"]
    wall = lat_cpu["wall_s"]
    deliveries = args.subscribers * f["latency_messages"]
    span = f["latency_send_span_s"]
    achieved = (f["latency_messages"] - 1) / span if span > 0 else math.nan
    out.append(
        f"publish-to-receive: {f['latency_messages']} messages at {args.rate:g}/s (achieved {achieved:.2f}/s; "
        f"HTTP sendMessage on "
        f"process 1) -> {args.subscribers:,} subscriptions ({args.subscribers // 2:,} per process, "
        f"{args.subs_per_socket} per socket); latency from the sendMessage response to each receipt"
    )
    lines = []
    for name, row in f["latency"].items():
        lines.append(
            (
                name,
                _n(row["n"]),
                _n(row["p50_ms"], 2),
                _n(row["p95_ms"], 2),
                _n(row["p99_ms"], 2),
                _n(row["max_ms"], 2),
                _n(row["min_ms"], 2),
            )
        )
    out.append(render(("latency", "n", "p50 ms", "p95 ms", "p99 ms", "max ms", "min ms"), lines))
    out.append(
        f"deliveries expected {check['expected']:,}, received {check['received']:,}: missing "
        f"{check['missing']}, duplicated {check['duplicated']}, unexpected {check['unexpected']}, wrong "
        f"{check['wrong']}, subscriptions out of order {check['subscriptions_out_of_order']}, other frames "
        f"{check['other_frames']}, socket events {check['socket_events']} -> "
        f"{'OK' if check['ok'] else 'FAILED'}"
    )
    out.append(
        f"latency window {wall:.1f} s (incl. {f['latency_drain_s']:.2f} s waiting for the last deliveries): "
        f"servers {lat_cpu['server_cpu_s'] / wall * 100:.0f}% of a core "
        f"({lat_cpu['server_cpu_s'] * 1e6 / max(deliveries, 1):.0f} us CPU per delivery), client "
        f"{lat_cpu['client_cpu_s'] / wall * 100:.0f}%, everything else (PostgreSQL, Redis, other processes) "
        f"{others(lat_cpu) / wall * 100:.0f}% ({others_named(lat_cpu)}); the machine has {os.cpu_count()} "
        "cores (200%)"
    )
    out.append("")
    before, after = f["rss_before_mib"], f["rss_after_mib"]
    out.append(
        f"idle memory: RSS {before[0]:,.1f} + {before[1]:,.1f} MiB before, "
        f"{after[0]:,.1f} + {after[1]:,.1f} MiB "
        f"with {args.subscribers:,} subscriptions open -> {f['rss_per_subscription_kib']:,.1f} KiB per "
        f"subscription (socket included when 1 per socket); opening and priming took {f['subscribe_s']:.1f} s"
    )
    out.append("")
    lines = []
    for row in outcome.throughput:
        r, cpu = row.result, row.cpu
        sent = r.requests + r.errors
        lines.append(
            (
                row.label,
                row.target,
                str(row.concurrency),
                _n(r.requests),
                str(r.errors),
                _n(r.throughput),
                _n(r.percentile_ms(50), 2),
                _n(r.percentile_ms(99), 2),
                _n(cpu["server_cpu_s"] * 1000 / sent, 2) if sent else "-",
                _n(cpu["client_cpu_s"] / cpu["wall_s"] * 100, 0),
                _n(others(cpu) / cpu["wall_s"] * 100, 0),
                _n(row.deliveries) if row.deliveries is not None else "-",
                _n(cpu.get("drain_s"), 1),
                _n(row.deliveries / cpu["wall_s"], 0) if row.deliveries else "-",
            )
        )
    out.append(
        "sustained sendMessage (closed loop; into own sessions: requests alternate between the two processes; "
        "into the watched session: all through process 1). With deliveries, the CPU columns and deliv/s "
        "cover the window plus the drain (until the last subscriber had the last message)"
    )
    out.append(
        render(
            (
                "load",
                "into",
                "conc",
                "messages",
                "err",
                "msg/s",
                "p50 ms",
                "p99 ms",
                "srv CPU ms/msg",
                "client CPU %",
                "other CPU %",
                "deliveries",
                "drain s",
                "deliv/s",
            ),
            lines,
            2,
        )
    )
    for summary in f.get("profile", []):
        out.append("")
        out.append(summary)
    out.append("")
    out.append(
        "other CPU by process: " + "; ".join(f"{row.label}: {others_named(row.cpu)}" for row in outcome.throughput)
    )
    out.append(
        f"whole run {f['run_s']:.0f} s (server start-up {f['startup_s']:.0f} s); {os.cpu_count()} CPUs shared "
        f"by two servers, PostgreSQL, Redis and the client; CPU % is of one core; the machine was "
        f"{f['machine_busy_before_pct']:.0f}% busy (of all cores) just before the run"
    )
    return "\n".join(out)
