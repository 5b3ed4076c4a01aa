"""What every part of the realtime bench shares: paths, the bench user, the GraphQL documents, helpers."""

from __future__ import annotations

import math
import sys
from pathlib import Path

from bench.config import EMAIL_DOMAIN

BENCH_DIR = Path(__file__).resolve().parent.parent
RESULTS_DIR = BENCH_DIR / "results"  # git-ignored

# A user of its own (not in the seed): deleted before and after each run, so the seeded data the HTTP
# bench verifies stays exactly what the seed wrote.
REALTIME_EMAIL = f"realtime@{EMAIL_DOMAIN}"

REGISTER = """
mutation($input: RegisterInput!) { register(input: $input) { accessToken errors { code message } } }
"""
CREATE_SESSION = """
mutation($input: CreateChatSessionInput!) {
  createChatSession(input: $input) { chatSession { id } errors { code message } } }
"""
SEND = """
mutation($input: SendMessageInput!) {
  sendMessage(input: $input) { message { id seq } errors { code message } } }
"""
FIRST_CURSOR = """
query($id: ID!) { node(id: $id) { ... on ChatSession { messages(first: 1) { edges { cursor node { seq } } } } } }
"""
# The contract's subscription, with `after` (see `open_subscribers`: it is what makes "subscribed"
# observable without a race).
SUBSCRIBE = """
subscription($id: ID!, $after: String) { messageAdded(sessionId: $id, after: $after) { id seq content } }
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class DeliveryFailure(AssertionError):
    """The gateway lost, duplicated, reordered or refused a delivery: the finding, not a bench bug."""


def percentile(values: list[float], pct: float) -> float:
    """Nearest rank (an observed value), like bench.load."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(math.ceil(pct / 100 * len(ordered)) - 1, 0)]
