"""users: accounts and business details."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, Index
from sqlmodel import Field

from models.base import Keyed, boolean, jsonb, tstz, utcnow, varchar

DEFAULT_TIMEZONE = "Australia/Sydney"


class BusinessType(StrEnum):
    """The predefined list the data model asks `business_type` to come from."""

    ACCOUNTING = "accounting"
    CONSTRUCTION = "construction"
    CONSULTING = "consulting"
    EDUCATION = "education"
    HEALTHCARE = "healthcare"
    HOSPITALITY = "hospitality"
    LEGAL = "legal"
    MANUFACTURING = "manufacturing"
    MARKETING = "marketing"
    REAL_ESTATE = "real_estate"
    RETAIL = "retail"
    TECHNOLOGY = "technology"
    TRADES = "trades"
    TRANSPORT = "transport"
    OTHER = "other"


class UserRole(StrEnum):
    USER = "user"
    OPERATOR = "operator"


class AiPersonality(StrEnum):
    PROFESSIONAL = "professional"
    FRIENDLY = "friendly"
    CONCISE = "concise"


def default_preferences() -> dict[str, Any]:
    return {
        "notifications": {"email": True, "push": True, "sms": False},
        "ai": {"personality": "professional", "proactiveMode": False, "autoSuggestions": True},
        "integrations": {"autoConnect": False},
    }


class User(Keyed, table=True):
    __tablename__ = "users"
    __table_args__ = (
        Index("idx_users_email", "email"),
        CheckConstraint("role IN ('user', 'operator')", name="role"),
    )

    email: str = Field(sa_column=varchar("email", 255, nullable=False, unique=True))
    password_hash: str = Field(sa_column=varchar("password_hash", 255, nullable=False))
    first_name: str = Field(sa_column=varchar("first_name", 100, nullable=False))
    last_name: str = Field(sa_column=varchar("last_name", 100, nullable=False))
    business_name: str | None = Field(default=None, sa_column=varchar("business_name", 255))
    business_type: str | None = Field(default=None, sa_column=varchar("business_type", 100, index=True))
    phone: str | None = Field(default=None, sa_column=varchar("phone", 20))
    timezone: str = Field(default=DEFAULT_TIMEZONE, sa_column=varchar("timezone", 50, default=DEFAULT_TIMEZONE))
    preferences: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb("preferences"))
    email_verified: bool = Field(default=False, sa_column=boolean("email_verified", default=False))
    email_verified_at: datetime | None = Field(default=None, sa_column=tstz("email_verified_at"))
    last_login_at: datetime | None = Field(default=None, sa_column=tstz("last_login_at"))
    created_at: datetime = Field(default_factory=utcnow, sa_column=tstz("created_at", default_now=True, index=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=tstz("updated_at", default_now=True))
    deleted_at: datetime | None = Field(default=None, sa_column=tstz("deleted_at"))
    # Added by migration 0002 (not in the seed): operators may change the shared agent registry.
    role: str = Field(default=UserRole.USER, sa_column=varchar("role", 20, nullable=False, default="user"))
