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


Attempt = tuple[Limit, str]  # a limit and its subject (an email, a client address)

# Count first, then judge: INCR is atomic, so of any burst of parallel attempts only `attempts` get
# through. An attempt over the limit is uncounted again, so refusals do not stretch the window.
_TAKE = """
local count = redis.call('INCR', KEYS[1])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if count > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  return math.max(redis.call('TTL', KEYS[1]), 1)
end
return 0
"""
# Never below zero, and never re-creating a key whose window has ended.
_GIVE_BACK = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
return 0
"""


async def take(redis: Redis, limit: Limit, subject: str) -> int | None:
    """Count one attempt now; seconds until the window reopens when it is over the limit (and then
    it does not count), else None."""
    wait = int(await redis.eval(_TAKE, 1, _key(limit, subject), limit.attempts,  # type: ignore[misc]
                                limit.window_seconds))
    return wait or None


async def give_back(redis: Redis, limit: Limit, subject: str) -> None:
    """Uncount an attempt that turned out not to count (a correct password)."""
    await redis.eval(_GIVE_BACK, 1, _key(limit, subject))  # type: ignore[misc]


async def take_all(redis: Redis, attempts: list[Attempt]) -> int | None:
    """Count the attempt against every limit, or, when any of them is exhausted, against none: the
    longest wait."""
    taken: list[Attempt] = []
    waits: list[int] = []
    for limit, subject in attempts:
        wait = await take(redis, limit, subject)
        if wait is None:
            taken.append((limit, subject))
        else:
            waits.append(wait)
    if not waits:
        return None
    for limit, subject in taken:
        await give_back(redis, limit, subject)
    return max(waits)


async def give_back_all(redis: Redis, attempts: list[Attempt]) -> None:
    for limit, subject in attempts:
        await give_back(redis, limit, subject)
