"""Operator roles, managed from the command line (`gateway grant-operator` / `revoke-operator`)."""

from __future__ import annotations

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import User
from models.users import UserRole
from resolvers.validation import normalize_email


async def set_role(session: AsyncSession, email: str, role: UserRole) -> bool:
    """Give the (not deleted) account with this email the role; False when there is no such account."""
    result = await session.execute(
        update(User)
        .where(col(User.email) == normalize_email(email), col(User.deleted_at).is_(None))
        .values(role=role.value, updated_at=func.now())
        .returning(col(User.id))
    )
    return result.first() is not None
