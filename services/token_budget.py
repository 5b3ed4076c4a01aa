"""Per-user daily token budget of the assistant, counted in Redis (shared by every worker): one counter
per user and UTC day, keyed by the user's id (ours, never a client's text), kept two days.

Tokens are what the provider reported (prompt + completion), or the gateway's estimate when it reported
none. The budget is judged before a reply starts; a reply that starts within it may end over it (a reply
is not cut half-way), and the next one is refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services import keys

KEEP_SECONDS = 2 * 24 * 60 * 60


def _key(user_id: uuid.UUID) -> str:
    return keys.assistant_tokens(user_id, datetime.now(UTC).strftime("%Y%m%d"))


async def spent_today(redis: Redis, user_id: uuid.UUID) -> int:
    """Tokens the user spent today; 0 when Redis cannot say (an outage does not silence the assistant)."""
    try:
        value = await redis.get(_key(user_id))
    except (RedisError, OSError):
        return 0
    return int(value or 0)


async def charge(redis: Redis, user_id: uuid.UUID, tokens: int) -> None:
    if tokens <= 0:
        return
    key = _key(user_id)
    try:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.incrby(key, tokens)
            pipe.expire(key, KEEP_SECONDS)
            await pipe.execute()
    except (RedisError, OSError):
        pass  # uncounted tokens: the budget is a guard against runaway use, not billing


async def remaining(redis: Redis, user_id: uuid.UUID, daily: int) -> int | None:
    """Tokens left today; None when there is no limit (daily 0)."""
    if daily <= 0:
        return None
    return max(0, daily - await spent_today(redis, user_id))
