"""Proving an email address, and resetting a forgotten password, by single-use links sent by mail."""

from __future__ import annotations

import logging
import secrets
import smtplib
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import User
from models.base import database_now
from resolvers.problems import ErrorCode, Problem, Rejected
from resolvers.unit_of_work import UnitOfWork
from resolvers.users.guard import UNAVAILABLE, lift_password_lock, take_or_refuse
from resolvers.validation import check_email, check_password, collect, normalize_email
from services import keys, ratelimit, sign_ins
from services.mailer import Mailer
from services.passwords import hash_in_pool

VERIFY_TTL_SECONDS = 24 * 60 * 60
RESET_TTL_SECONDS = 60 * 60
log = logging.getLogger("gateway.mail")
BAD_TOKEN = Problem("input.token", ErrorCode.INVALID, "The link is invalid or has expired.")


def _key(purpose: str, token: str) -> str:
    return keys.one_time_link(purpose, token)


async def _mint(redis: Redis, purpose: str, user_id: uuid.UUID, ttl: int) -> str:
    token = secrets.token_urlsafe(32)
    await redis.set(_key(purpose, token), str(user_id), ex=ttl)
    return token


async def _spend(redis: Redis, purpose: str, token: str) -> uuid.UUID | None:
    try:
        raw = await redis.getdel(_key(purpose, token))
    except (RedisError, OSError):
        raise Rejected([UNAVAILABLE]) from None
    return uuid.UUID(raw) if raw else None


@dataclass(frozen=True)
class Letter:
    """What a code mail says, and how long its single-use code lives."""

    purpose: str
    ttl_seconds: int
    subject: str
    ask: str
    terms: str

    def body(self, first_name: str, code: str) -> str:
        return f"Hello {first_name},\n\n{self.ask}:\n\n{code}\n\n{self.terms}\n"


VERIFY_LETTER = Letter(
    "verify-email",
    VERIFY_TTL_SECONDS,
    "Confirm your email address",
    "Confirm your address with this code",
    "It works once, for 24 hours.",
)
RESET_LETTER = Letter(
    "reset-password",
    RESET_TTL_SECONDS,
    "Reset your password",
    "Reset your password with this code",
    "It works once, for one hour. If you did not ask for it, ignore this email.",
)
MAIL_UNAVAILABLE = Problem(None, ErrorCode.UNAVAILABLE, "The mail could not be sent; try again shortly.")


async def _written(redis: Redis, user: User, letter: Letter) -> tuple[str, str, str]:
    """Mint the letter's single-use code for `user`: the mail to send (to, subject, body)."""
    try:
        code = await _mint(redis, letter.purpose, user.id, letter.ttl_seconds)
    except (RedisError, OSError):
        raise Rejected([UNAVAILABLE]) from None
    return user.email, letter.subject, letter.body(user.first_name, code)


async def _send(mailer: Mailer, mail: tuple[str, str, str]) -> bool:
    """Send `mail`; a mail server that is down or refuses is logged (without the mail: it carries a code)."""
    try:
        await mailer.send(*mail)
    except (OSError, smtplib.SMTPException) as error:
        log.warning("a mail could not be sent: %s", type(error).__name__)
        return False
    return True


def _per_address(limit: ratelimit.Limit, address: str | None) -> list[ratelimit.Attempt]:
    return [(limit, address)] if address else []


async def request_email_verification(
    uow: UnitOfWork, redis: Redis, mailer: Mailer, user_id: uuid.UUID, *, address: str | None
) -> None:
    """A few mails an hour per account and per address: nobody floods a mailbox from here. The mail goes
    out once the transaction has ended (no connection waits on a mail server); one that cannot be sent is
    answered UNAVAILABLE."""
    user = (await uow.db.execute(select(User).where(col(User.id) == user_id))).scalar_one()
    if user.email_verified:
        raise Rejected([Problem(None, ErrorCode.INVALID_STATE, "The email address is already verified.")])
    await take_or_refuse(
        redis,
        [(ratelimit.VERIFY_PER_ACCOUNT, str(user.id)), *_per_address(ratelimit.VERIFY_PER_ADDRESS, address)],
        "Too many verification mails; try again later.",
    )
    mail = await _written(redis, user, VERIFY_LETTER)
    await uow.release()
    if not await _send(mailer, mail):
        raise Rejected([MAIL_UNAVAILABLE])


async def verify_email(db: AsyncSession, redis: Redis, token: str) -> User:
    user_id = await _spend(redis, "verify-email", token)
    user = await db.get(User, user_id) if user_id else None
    if user is None or user.deleted_at is not None:
        raise Rejected([BAD_TOKEN])
    if not user.email_verified:
        user.email_verified = True
        user.email_verified_at = database_now()
        user.updated_at = database_now()
        await db.flush()
        await db.refresh(user)
    return user


async def request_password_reset(
    uow: UnitOfWork, redis: Redis, mailer: Mailer, email: str, *, address: str | None
) -> None:
    """The same answer whether or not the account exists; only the mailbox learns the difference. So the
    mail goes out after the commit and a mail server that is down is logged, not answered."""
    email = normalize_email(email)
    # Checked before any limiter touches Redis: a malformed email is refused and stores nothing.
    problem = check_email("input.email", email)
    if problem is not None:
        raise Rejected([problem])
    await take_or_refuse(
        redis,
        [(ratelimit.RESET_PER_ACCOUNT, email), *_per_address(ratelimit.RESET_PER_ADDRESS, address)],
        "Too many reset requests; try again later.",
    )
    found = await uow.db.execute(select(User).where(col(User.email) == email, col(User.deleted_at).is_(None)))
    user = found.scalar_one_or_none()
    if user is None:
        return
    mail = await _written(redis, user, RESET_LETTER)
    uow.after_commit(lambda: _send(mailer, mail))


async def reset_password(
    db: AsyncSession, redis: Redis, token: str, new_password: str, *, address: str | None = None
) -> None:
    """Set a new password from a reset link; every session of the account is signed out, and the account's
    sign-in lock is lifted (from `address`, where the reset came from)."""
    try:
        raw = await redis.get(_key("reset-password", token))
    except (RedisError, OSError):
        raise Rejected([UNAVAILABLE]) from None
    user = await db.get(User, uuid.UUID(raw), with_for_update=True) if raw else None
    if user is None or user.deleted_at is not None:
        raise Rejected([BAD_TOKEN])
    problems = collect(check_password("input.newPassword", new_password, user.email))
    if problems:
        # Not spent: the link stays usable for a better password, until its original deadline.
        raise Rejected(problems)
    if await _spend(redis, "reset-password", token) != user.id:  # a concurrent use spent it first
        raise Rejected([BAD_TOKEN])
    user.password_hash = await hash_in_pool(new_password)
    user.updated_at = database_now()
    await db.flush()
    try:
        await sign_ins.end_all(redis, user.id)
    except (RedisError, OSError):
        raise Rejected([UNAVAILABLE]) from None
    await lift_password_lock(redis, user.email, address)
