"""The signed-in user's own account: profile, preferences, password, deletion."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from loaders.visibility import visible_users
from models import User
from models.base import database_now
from models.users import BusinessType, default_preferences
from resolvers.problems import ErrorCode, Problem, Rejected
from resolvers.users.guard import check_password as check_guarded_password
from resolvers.validation import (
    check_length,
    check_password,
    check_phone,
    check_timezone,
    collect,
    normalize_phone,
)
from services import sign_ins
from services.passwords import hash_in_pool

TOO_MANY_GUESSES = "Too many wrong passwords; try again later."
WRONG_PASSWORD = Problem("input.currentPassword", ErrorCode.INVALID_CREDENTIALS, "The password is wrong.")


@dataclass(frozen=True)
class ProfileUpdate:
    """Fields left as None are unchanged; an empty string clears an optional field."""

    first_name: str | None = None
    last_name: str | None = None
    business_name: str | None = None
    business_type: BusinessType | None = None
    clear_business_type: bool = False
    phone: str | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class PreferencesUpdate:
    """A partial `UserPreferences` in its stored (camelCase) shape, merged over what is stored."""

    changes: dict[str, Any] = field(default_factory=dict)


async def _own(db: AsyncSession, user_id: uuid.UUID) -> User:
    found = await db.execute(visible_users(user_id, User).with_for_update())
    user: User | None = found.scalar_one_or_none()
    if user is None:
        raise Rejected([Problem(None, ErrorCode.UNAUTHENTICATED, "The account no longer exists.")])
    return user


async def update_profile(db: AsyncSession, user_id: uuid.UUID, update: ProfileUpdate) -> User:
    user = await _own(db, user_id)
    first = update.first_name.strip() if update.first_name is not None else None
    last = update.last_name.strip() if update.last_name is not None else None
    phone = normalize_phone(update.phone) if update.phone else None
    problems = collect(
        check_length("input.firstName", first, minimum=1, maximum=100, label="First name"),
        check_length("input.lastName", last, minimum=1, maximum=100, label="Last name"),
        check_length("input.businessName", update.business_name, maximum=255, label="Business name"),
        check_phone("input.phone", phone) if phone else None,
        check_timezone("input.timezone", update.timezone) if update.timezone is not None else None,
    )
    if problems:
        raise Rejected(problems)
    if first is not None:
        user.first_name = first
    if last is not None:
        user.last_name = last
    if update.business_name is not None:
        user.business_name = update.business_name.strip() or None
    if update.business_type is not None:
        user.business_type = update.business_type.value
    elif update.clear_business_type:
        user.business_type = None
    if update.phone is not None:
        user.phone = phone
    if update.timezone is not None:
        user.timezone = update.timezone
    user.updated_at = database_now()
    await db.flush()
    await db.refresh(user)
    return user


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


async def update_preferences(db: AsyncSession, user_id: uuid.UUID, update: PreferencesUpdate) -> User:
    user = await _own(db, user_id)
    stored = user.preferences if isinstance(user.preferences, dict) else {}
    user.preferences = _merge(_merge(default_preferences(), stored), update.changes)
    user.updated_at = database_now()
    await db.flush()
    await db.refresh(user)
    return user


async def change_password(
    db: AsyncSession,
    redis: Redis,
    user_id: uuid.UUID,
    current: str,
    new: str,
    *,
    keep_sign_in: str | None,
    address: str | None,
) -> User:
    """Needs the current password (checked under the sign-in limits); signs out every other session."""
    user = await _own(db, user_id)
    problems = collect(check_password("input.newPassword", new, user.email))
    if not await check_guarded_password(
        redis, user.email, address, user.password_hash, current, message=TOO_MANY_GUESSES
    ):
        problems.insert(0, WRONG_PASSWORD)
    if problems:
        raise Rejected(problems)
    user.password_hash = await hash_in_pool(new)
    user.updated_at = database_now()
    await db.flush()
    await _revoke(redis, user_id, keep=keep_sign_in)
    await db.refresh(user)
    return user


async def delete_account(
    db: AsyncSession, redis: Redis, user_id: uuid.UUID, password: str, *, address: str | None
) -> None:
    """Soft delete: sign-in refused, data hidden, sign-ins ended. The row (and so the email) stays
    until the retention purge removes it. The password is checked under the sign-in limits."""
    user = await _own(db, user_id)
    if not await check_guarded_password(
        redis, user.email, address, user.password_hash, password, message=TOO_MANY_GUESSES
    ):
        raise Rejected([Problem("input.password", ErrorCode.INVALID_CREDENTIALS, "The password is wrong.")])
    user.deleted_at = database_now()
    user.updated_at = database_now()
    await db.flush()
    await _revoke(redis, user_id, keep=None)


async def _revoke(redis: Redis, user_id: uuid.UUID, *, keep: str | None) -> None:
    try:
        await sign_ins.end_all(redis, user_id, keep=keep)
    except (RedisError, OSError):
        # Refuse rather than leave sign-ins alive that the user believes are gone.
        raise Rejected(
            [Problem(None, ErrorCode.UNAVAILABLE, "Sessions cannot be signed out right now; try again shortly.")]
        ) from None
