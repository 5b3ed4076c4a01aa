"""Signing up and in, and the sign-ins that follow: refresh, logout."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import User
from models.users import DEFAULT_TIMEZONE, BusinessType, default_preferences
from resolvers.problems import ErrorCode, Problem, Rejected
from resolvers.users.guard import check_password as check_guarded_password
from resolvers.validation import (
    check_email,
    check_length,
    check_password,
    check_phone,
    check_timezone,
    collect,
    normalize_email,
    normalize_phone,
)
from services import ratelimit, sign_ins
from services.passwords import hash_in_pool
from services.tokens import TokenKeys

SIGN_IN_FAILED = Problem("input.password", ErrorCode.INVALID_CREDENTIALS, "The email or password is wrong.")
SESSIONS_UNAVAILABLE = Problem(None, ErrorCode.UNAVAILABLE, "Signing in is unavailable right now; try again shortly.")
TOO_MANY_SIGN_INS = "Too many sign-in attempts; try again later."
REFRESH_FAILED = Problem(
    "input.refreshToken", ErrorCode.UNAUTHENTICATED, "The refresh token is not valid; sign in again."
)


@dataclass(frozen=True)
class Registration:
    email: str
    password: str
    first_name: str
    last_name: str
    business_name: str | None = None
    business_type: BusinessType | None = None
    phone: str | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class SignedIn:
    user: User
    access_token: str
    refresh_token: str


async def _email_taken(db: AsyncSession, email: str) -> bool:
    # Soft-deleted accounts keep their email until the retention purge removes the row.
    found = await db.execute(select(func.count()).select_from(User).where(col(User.email) == email))
    return bool(found.scalar_one())


async def register(
    db: AsyncSession, redis: Redis, keys: TokenKeys, data: Registration, *, address: str | None, per_hour: int
) -> SignedIn:
    email = normalize_email(data.email)
    phone = normalize_phone(data.phone) if data.phone else None
    first_name, last_name = data.first_name.strip(), data.last_name.strip()
    problems = collect(
        check_email("input.email", email),
        check_password("input.password", data.password, email),
        check_length("input.firstName", first_name, minimum=1, maximum=100, label="First name"),
        check_length("input.lastName", last_name, minimum=1, maximum=100, label="Last name"),
        check_length("input.businessName", data.business_name, maximum=255, label="Business name"),
        check_phone("input.phone", phone) if phone else None,
        check_timezone("input.timezone", data.timezone) if data.timezone is not None else None,
    )
    if not any(p.field == "input.email" for p in problems):
        # Counted once the email is well formed (a malformed one touches neither Redis nor the
        # database), before the address can learn whether the email is taken or make us hash.
        await _take_register_attempt(redis, address, per_hour)
        if await _email_taken(db, email):
            problems.append(
                Problem("input.email", ErrorCode.ALREADY_EXISTS, "An account with this email already exists.")
            )
    if problems:
        raise Rejected(problems)
    user = User(
        email=email,
        password_hash=await hash_in_pool(data.password),
        first_name=first_name,
        last_name=last_name,
        business_name=(data.business_name or "").strip() or None,
        business_type=data.business_type.value if data.business_type else None,
        phone=phone,
        timezone=data.timezone or DEFAULT_TIMEZONE,
        preferences=default_preferences(),
    )
    db.add(user)
    try:
        await db.flush()
    except IntegrityError:
        await db.rollback()
        raise Rejected(
            [Problem("input.email", ErrorCode.ALREADY_EXISTS, "An account with this email already exists.")]
        ) from None
    return await _sign_in(db, redis, keys, user)


async def _take_register_attempt(redis: Redis, address: str | None, per_hour: int) -> None:
    if not address:
        return
    try:
        wait = await ratelimit.take(redis, ratelimit.register_per_address(per_hour), address)
    except (RedisError, OSError):
        raise Rejected([SESSIONS_UNAVAILABLE]) from None
    if wait is not None:
        raise Rejected(
            [Problem(None, ErrorCode.RATE_LIMITED, "Too many sign-ups from here; try again later.", retry_after=wait)]
        )


async def login(
    db: AsyncSession, redis: Redis, keys: TokenKeys, email: str, password: str, *, address: str | None = None
) -> SignedIn:
    email = normalize_email(email)
    # No account has a malformed email: refuse it (as for an unknown account) before any limiter
    # touches Redis.
    if check_email("input.email", email) is not None:
        raise Rejected([SIGN_IN_FAILED])
    found = await db.execute(select(User).where(col(User.email) == email, col(User.deleted_at).is_(None)))
    user = found.scalar_one_or_none()
    try:
        # Checked even when the account is unknown, so both failures take the same time and count alike.
        correct = await check_guarded_password(
            redis, email, address, user.password_hash if user else None, password, message=TOO_MANY_SIGN_INS
        )
    except Rejected as rejected:
        if rejected.problems[0].code is ErrorCode.UNAVAILABLE:
            raise Rejected([SESSIONS_UNAVAILABLE]) from None
        raise
    if not correct or user is None:
        raise Rejected([SIGN_IN_FAILED])
    await db.execute(update(User).where(col(User.id) == user.id).values(last_login_at=func.now()))
    await db.refresh(user)
    return await _sign_in(db, redis, keys, user)


async def _sign_in(db: AsyncSession, redis: Redis, keys: TokenKeys, user: User) -> SignedIn:
    try:
        issued = await sign_ins.start(redis, user.id)
    except (RedisError, OSError):
        await db.rollback()
        raise Rejected([SESSIONS_UNAVAILABLE]) from None
    return SignedIn(
        user=user, access_token=keys.issue(user.id, sign_in_id=issued.sign_in_id), refresh_token=issued.refresh_token
    )


async def refresh(db: AsyncSession, redis: Redis, keys: TokenKeys, refresh_token: str) -> SignedIn:
    """Rotate the refresh token. Presenting one already rotated revokes the whole session."""
    try:
        issued = await sign_ins.rotate(redis, refresh_token)
    except sign_ins.RefreshRejected:
        raise Rejected([REFRESH_FAILED]) from None
    except (RedisError, OSError):
        raise Rejected([SESSIONS_UNAVAILABLE]) from None
    user = await db.get(User, issued.user_id)
    if user is None or user.deleted_at is not None:
        await sign_ins.end(redis, issued.sign_in_id, issued.user_id)
        raise Rejected([REFRESH_FAILED])
    return SignedIn(
        user=user, access_token=keys.issue(user.id, sign_in_id=issued.sign_in_id), refresh_token=issued.refresh_token
    )


async def logout(redis: Redis, refresh_token: str) -> None:
    try:
        found = await sign_ins.find(redis, refresh_token)
        if found is not None:
            await sign_ins.end(redis, *found)
    except (RedisError, OSError):
        raise Rejected([SESSIONS_UNAVAILABLE]) from None


async def logout_everywhere(redis: Redis, user_id: uuid.UUID) -> int:
    try:
        return await sign_ins.end_all(redis, user_id)
    except (RedisError, OSError):
        raise Rejected([SESSIONS_UNAVAILABLE]) from None
