"""Cost units a user may spend per window, counted in Redis and shared by every gateway process.

Each operation spends its static cost (graph/cost.py) before it runs. Keys are a hash of the subject
(`user:<uuid>` or `address:<client address>`): nothing a client sends becomes a key raw, and a key's
length never depends on the input. The window is fixed (a key per subject that expires), like the
attempt limits in services/ratelimit.py.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from redis.asyncio import Redis

from services.keys import cost_budget

log = logging.getLogger("gateway.cost")

# Spend first, then judge, in one atomic step: of any burst of parallel operations only what fits the
# budget runs. A refused operation is given back at once, so refusals neither spend the budget nor
# stretch the window; a refused spend never creates a key (the key exists only if something fits).
_SPEND = """
local spent = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
if spent > tonumber(ARGV[2]) then
  local left = redis.call('DECRBY', KEYS[1], ARGV[1])
  local wait = math.max(redis.call('TTL', KEYS[1]), 1)
  if left <= 0 then redis.call('DEL', KEYS[1]) end
  return wait
end
return 0
"""


@dataclass(frozen=True)
class CostBudget:
    units: int
    window_seconds: int

    @property
    def enabled(self) -> bool:
        return self.units > 0


def subject_key(subject: str) -> str:
    return cost_budget(hashlib.sha256(subject.encode()).hexdigest()[:32])


async def spend(redis: Redis, budget: CostBudget, subject: str, cost: int) -> int | None:
    """Spend `cost` units of the subject's budget now; seconds until the window reopens when they do
    not fit (then nothing is spent), else None. An operation costlier than the whole budget can never
    fit: it waits for a fresh window, and is still refused (the per-query limit is meant to be far lower)."""
    wait = int(
        await redis.eval(
            _SPEND,
            1,
            subject_key(subject),
            cost,
            budget.units,  # type: ignore[misc]
            budget.window_seconds,
        )
    )
    return wait or None
