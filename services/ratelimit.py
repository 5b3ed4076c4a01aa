"""Attempt limits in Redis, shared by every gateway process: fixed windows counted per subject
(an account's email, a client address)."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis


@dataclass(frozen=True)
class Limit:
    name: str
    attempts: int
    window_seconds: int


# Failed sign-ins; a correct password does not count.
LOGIN_PER_ACCOUNT = Limit("login:account", 5, 15 * 60)
LOGIN_PER_ADDRESS = Limit("login:address", 30, 15 * 60)
# Reset requests, whether or not the account exists.
RESET_PER_ACCOUNT = Limit("reset:account", 3, 60 * 60)
RESET_PER_ADDRESS = Limit("reset:address", 10, 60 * 60)


def _key(limit: Limit, subject: str) -> str:
    return f"ratelimit:{limit.name}:{subject}"


async def exceeded(redis: Redis, limit: Limit, subject: str) -> int | None:
    """Seconds until the window reopens when the subject has used all its attempts, else None."""
    key = _key(limit, subject)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.get(key)
        pipe.ttl(key)
        count, ttl = await pipe.execute()
    if count is not None and int(count) >= limit.attempts:
        return max(int(ttl), 1)
    return None


async def record(redis: Redis, limit: Limit, subject: str) -> None:
    key = _key(limit, subject)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, limit.window_seconds, nx=True)
        await pipe.execute()


async def hit(redis: Redis, limit: Limit, subject: str) -> int | None:
    """Check, then count this attempt: for limits on every request, not only on failures."""
    wait = await exceeded(redis, limit, subject)
    if wait is None:
        await record(redis, limit, subject)
    return wait
