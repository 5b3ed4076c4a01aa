"""Attempt limits in Redis, shared by every gateway process: fixed windows counted per subject
(an account's email, a client address, a pair of them).

Subjects come from outside (an email typed by anyone), so a key holds only a hash of its subject:
its size never depends on what a client sends. An attempt is judged before it is counted, in one
script: a refused attempt counts nowhere and creates no key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from redis.asyncio import Redis

from services.keys import attempt_counter, attempt_strikes

# A back-off limit remembers how often its window filled up for this long, and never locks longer.
STRIKE_MEMORY_SECONDS = 24 * 60 * 60
MAX_LOCK_SECONDS = 24 * 60 * 60


@dataclass(frozen=True)
class Limit:
    name: str
    attempts: int
    window_seconds: int
    # Each time the window fills up, the lock that follows lasts twice as long as the one before.
    backoff: bool = False


# Failed password checks (sign-in, change of password, deletion); a correct password does not count.
# Per (account, address) with back-off, so a stranger elsewhere cannot lock the owner out; a higher
# ceiling per account across all addresses; and per address, across all accounts.
PASSWORD_PER_ACCOUNT_ADDRESS = Limit("password:pair", 5, 15 * 60, backoff=True)
PASSWORD_PER_ACCOUNT = Limit("password:account", 50, 60 * 60)
PASSWORD_PER_ADDRESS = Limit("password:address", 30, 15 * 60)
# Reset requests, whether or not the account exists.
RESET_PER_ACCOUNT = Limit("reset:account", 3, 60 * 60)
RESET_PER_ADDRESS = Limit("reset:address", 10, 60 * 60)
# Email verification mails.
VERIFY_PER_ACCOUNT = Limit("verify:account", 3, 60 * 60)
VERIFY_PER_ADDRESS = Limit("verify:address", 10, 60 * 60)


def register_per_address(per_hour: int) -> Limit:
    """Sign-ups per client address (GATEWAY_REGISTER_PER_HOUR), whatever their outcome."""
    return Limit("register:address", per_hour, 60 * 60)


def key(limit: Limit, subject: str) -> str:
    digest = hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return attempt_counter(limit.name, digest)


def pair(*parts: str | None) -> str:
    """One subject made of several (an account and an address); the separator cannot occur in them."""
    return "\x00".join(part or "" for part in parts)


Attempt = tuple[Limit, str]  # a limit and its subject (an email, a client address)

# KEYS[2i-1] counts limit i, KEYS[2i] its strikes; ARGV[3i-2..3i]: attempts, window, back-off.
# First judge every limit (nothing written), then count against all of them: INCR is atomic and the
# whole script runs alone, so of any burst of parallel attempts only `attempts` get through.
_TAKE_ALL = """
local n = #KEYS / 2
local wait = 0
for i = 1, n do
  local count = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  if count >= tonumber(ARGV[3 * i - 2]) then
    wait = math.max(wait, redis.call('TTL', KEYS[2 * i - 1]), 1)
  end
end
if wait > 0 then return wait end
for i = 1, n do
  local counter = KEYS[2 * i - 1]
  local attempts = tonumber(ARGV[3 * i - 2])
  local window = tonumber(ARGV[3 * i - 1])
  local count = redis.call('INCR', counter)
  if redis.call('TTL', counter) < 0 then redis.call('EXPIRE', counter, window) end
  if ARGV[3 * i] == '1' and count >= attempts then
    local strikes = redis.call('INCR', KEYS[2 * i])
    redis.call('EXPIRE', KEYS[2 * i], tonumber(ARGV[#ARGV - 1]))
    local lock = math.min(window * 2 ^ math.min(strikes - 1, 30), tonumber(ARGV[#ARGV]))
    redis.call('EXPIRE', counter, lock)
  end
end
return 0
"""
# Never below zero, and never re-creating a key whose window has ended. A correct password also
# forgets the back-off strikes of its (account, address).
_GIVE_BACK = """
for i = 1, #KEYS / 2 do
  if tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0') > 0 then redis.call('DECR', KEYS[2 * i - 1]) end
  redis.call('DEL', KEYS[2 * i])
end
return 0
"""


def _keys(attempts: list[Attempt]) -> list[str]:
    keys: list[str] = []
    for limit, subject in attempts:
        counter = key(limit, subject)
        keys += [counter, attempt_strikes(counter)]
    return keys


async def take_all(redis: Redis, attempts: list[Attempt]) -> int | None:
    """Count the attempt against every limit, or, when any of them is exhausted, against none (and
    then write nothing): seconds until the longest lock ends, else None."""
    if not attempts:
        return None
    args: list[int] = []
    for limit, _ in attempts:
        args += [limit.attempts, limit.window_seconds, int(limit.backoff)]
    args += [STRIKE_MEMORY_SECONDS, MAX_LOCK_SECONDS]
    keys = _keys(attempts)
    wait = int(await redis.eval(_TAKE_ALL, len(keys), *keys, *args))  # type: ignore[misc]
    return wait or None


async def take(redis: Redis, limit: Limit, subject: str) -> int | None:
    """Count one attempt now; seconds until the window reopens when it is over the limit (and then
    it does not count), else None."""
    return await take_all(redis, [(limit, subject)])


async def give_back_all(redis: Redis, attempts: list[Attempt]) -> None:
    """Uncount an attempt that turned out not to count (a correct password)."""
    keys = _keys(attempts)
    await redis.eval(_GIVE_BACK, len(keys), *keys)  # type: ignore[misc]


async def forget_all(redis: Redis, attempts: list[Attempt]) -> None:
    """Forget the counts and back-off strikes of these limits for these subjects (a lock lifted)."""
    await redis.delete(*_keys(attempts))


async def give_back(redis: Redis, limit: Limit, subject: str) -> None:
    await give_back_all(redis, [(limit, subject)])
