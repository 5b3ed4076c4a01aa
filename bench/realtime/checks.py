"""Verification of the deliveries, and the latency figures drawn from them."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Any

from bench.realtime.common import percentile
from bench.realtime.gateway import Sent


def verify(collected: list[dict[str, Any]], expected: list[tuple[int, str, str]], subscribers: int) -> dict[str, Any]:
    """Every subscription must hold exactly `expected` ((seq, id, content) in seq order), once each."""
    deliveries: dict[int, list[tuple[int, int, str, str]]] = {}
    other: list[str] = []
    events: list[str] = []
    for part in collected:
        deliveries.update(part["deliveries"])
        other += part["other"]
        events += part["events"]
    want = [seq for seq, _, _ in expected]
    by_seq = {seq: (gid, content) for seq, gid, content in expected}
    problems: list[str] = []
    missing = duplicated = unexpected = reordered = wrong = 0
    for number in range(subscribers):
        got = deliveries.get(number, [])
        seqs = [seq for _, seq, _, _ in got]
        counts = Counter(seqs)
        miss = [s for s in want if s not in counts]
        dup = [s for s, c in counts.items() if c > 1]
        extra = [s for s in counts if s not in by_seq]
        bad = [s for _, s, gid, content in got if s in by_seq and by_seq[s] != (gid, content)]
        unordered = seqs != sorted(seqs)
        missing += len(miss)
        duplicated += sum(counts[s] - 1 for s in dup)
        unexpected += len(extra)
        wrong += len(bad)
        reordered += int(unordered)
        if (miss or dup or extra or bad or unordered) and len(problems) < 10:
            problems.append(
                f"subscription {number}: {len(got)} received; missing seq {miss[:10]}"
                f"{'...' if len(miss) > 10 else ''}; duplicated {dup[:10]}; unexpected {extra[:10]};"
                f" wrong id/content at {bad[:10]}; in order: {not unordered}"
            )
    received = sum(len(v) for v in deliveries.values())
    return {
        "expected": subscribers * len(want),
        "received": received,
        "missing": missing,
        "duplicated": duplicated,
        "unexpected": unexpected,
        "wrong": wrong,
        "subscriptions_out_of_order": reordered,
        "other_frames": len(other),
        "socket_events": len(events),
        "problems": problems,
        "other_sample": other[:5],
        "events_sample": events[:5],
        "ok": not (missing or duplicated or unexpected or wrong or reordered or other or events)
        and received == subscribers * len(want),
        "_deliveries": deliveries,
    }


def latency_figures(
    deliveries: dict[int, list[tuple[int, int, str, str]]],
    sent: list[Sent],
    server_of: dict[int, int],
    sender_server: int,
) -> dict[str, Any]:
    by_seq = {s.seq: s for s in sent}
    groups: dict[str, list[float]] = defaultdict(list)
    last: dict[int, float] = defaultdict(lambda: -math.inf)
    for number, got in deliveries.items():
        where = "same process as sender" if server_of[number] == sender_server else "other process"
        for received, seq, _, _ in got:
            message = by_seq.get(seq)
            if message is None:
                continue
            from_answer = (received - message.answered_ns) / 1e6
            groups["all"].append(from_answer)
            groups[where].append(from_answer)
            groups["from request start"].append((received - message.started_ns) / 1e6)
            last[seq] = max(last[seq], from_answer)
    groups["last subscriber of a message"] = list(last.values())
    rows = {}
    for name in (
        "all",
        "same process as sender",
        "other process",
        "from request start",
        "last subscriber of a message",
    ):
        values = groups.get(name, [])
        rows[name] = {
            "n": len(values),
            "p50_ms": percentile(values, 50),
            "p95_ms": percentile(values, 95),
            "p99_ms": percentile(values, 99),
            "max_ms": max(values) if values else math.nan,
            "min_ms": min(values) if values else math.nan,
        }
    http = [(s.answered_ns - s.started_ns) / 1e6 for s in sent]
    rows["sendMessage HTTP round trip"] = {
        "n": len(http),
        "p50_ms": percentile(http, 50),
        "p95_ms": percentile(http, 95),
        "p99_ms": percentile(http, 99),
        "max_ms": max(http) if http else math.nan,
        "min_ms": min(http) if http else math.nan,
    }
    return rows
