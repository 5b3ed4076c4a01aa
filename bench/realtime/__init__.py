"""Realtime benchmark: `messageAdded` fan-out over two gateway processes sharing PostgreSQL and Redis.

    python -m bench realtime [--subscribers 1000] [--rate 5] [--seconds 12] [--concurrency 8] [--duration 10]
    python -m bench.realtime ...   (the same)

Measures publish-to-receive latency over every delivery to 1,000 subscriptions, the idle memory of an
open subscription, and sustained `sendMessage` throughput without and with the subscribers attached.
Every subscription must receive every message exactly once and in `seq` order, or the run fails.
See bench/README.md ("Realtime") for what each figure means.
"""

from bench.realtime.cli import main

__all__ = ["main"]
