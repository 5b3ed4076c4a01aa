"""Every check of a password (sign-in, change of password, deletion) goes through here: counted
against the same attempt limits before the check, the check itself off the event loop."""

from __future__ import annotations

import contextlib

from redis.asyncio import Redis
from redis.exceptions import RedisError

from resolvers.problems import ErrorCode, Problem, Rejected
from services import ratelimit
from services.passwords import verify_in_pool

UNAVAILABLE = Problem(None, ErrorCode.UNAVAILABLE, "This is unavailable right now; try again shortly.")


def password_attempts(email: str, address: str | None) -> list[ratelimit.Attempt]:
    """The limits one password check counts against. `email` is the normalized address the account
    is known by (typed at sign-in, stored otherwise), so every way of guessing shares one count."""
    attempts = [
        (ratelimit.PASSWORD_PER_ACCOUNT_ADDRESS, ratelimit.pair(email, address)),
        (ratelimit.PASSWORD_PER_ACCOUNT, email),
    ]
    if address:
        attempts.append((ratelimit.PASSWORD_PER_ADDRESS, address))
    return attempts


async def lift_password_lock(redis: Redis, email: str, address: str | None) -> None:
    """The account's own sign-in lock lifted (after a successful password reset, which proved the mailbox):
    its count across addresses, and its count with back-off from the address the reset came from. The
    per-address limit across accounts stays, or resetting one's own account would lift it for guessing others;
    so do the counts of other addresses with this account (a stranger there only locked themselves)."""
    lifted = [
        attempt for attempt in password_attempts(email, address) if attempt[0] is not ratelimit.PASSWORD_PER_ADDRESS
    ]
    with contextlib.suppress(RedisError, OSError):
        await ratelimit.forget_all(redis, lifted)


async def take_password_attempt(
    redis: Redis, email: str, address: str | None, *, message: str
) -> list[ratelimit.Attempt]:
    """Count the attempt as a failure before the password is checked, so parallel guesses cannot all
    slip in under the limit; `give_back` uncounts it once the password proved correct."""
    attempts = password_attempts(email, address)
    await take_or_refuse(redis, attempts, message)
    return attempts


async def take_or_refuse(redis: Redis, attempts: list[ratelimit.Attempt], message: str) -> None:
    """Count an attempt against every limit, or refuse: RATE_LIMITED with the wait, or UNAVAILABLE
    without Redis (without the count, attempts would be unlimited)."""
    try:
        wait = await ratelimit.take_all(redis, attempts)
    except (RedisError, OSError):
        raise Rejected([UNAVAILABLE]) from None
    if wait is not None:
        raise Rejected([Problem(None, ErrorCode.RATE_LIMITED, message, retry_after=wait)])


async def give_back(redis: Redis, attempts: list[ratelimit.Attempt]) -> None:
    with contextlib.suppress(RedisError, OSError):
        await ratelimit.give_back_all(redis, attempts)


async def check_password(
    redis: Redis, email: str, address: str | None, password_hash: str | None, password: str, *, message: str
) -> bool:
    """Whether `password` matches, counted against the limits (RATE_LIMITED once they are spent).
    With no hash (an unknown account) it still takes the time of a real check."""
    attempts = await take_password_attempt(redis, email, address, message=message)
    if not await verify_in_pool(password_hash, password) or password_hash is None:
        return False
    await give_back(redis, attempts)
    return True
