"""Refresh tokens: opaque, stored only as a SHA-256 hash in Redis, 24 h sliding TTL (the seed's
"user sessions: Redis with 24h TTL")."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis

SESSION_TTL_SECONDS = 24 * 60 * 60


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _key(token_hash: str) -> str:
    return f"session:refresh:{token_hash}"


@dataclass(frozen=True)
class IssuedSession:
    session_id: str
    refresh_token: str


async def open_session(redis: Redis, user_id: uuid.UUID) -> IssuedSession:
    session_id = secrets.token_urlsafe(16)
    refresh_token = secrets.token_urlsafe(32)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(_key(_digest(refresh_token)), mapping={"user_id": str(user_id), "sid": session_id})
        pipe.expire(_key(_digest(refresh_token)), SESSION_TTL_SECONDS)
        pipe.sadd(f"session:user:{user_id}", session_id)
        pipe.expire(f"session:user:{user_id}", SESSION_TTL_SECONDS)
        await pipe.execute()
    return IssuedSession(session_id=session_id, refresh_token=refresh_token)
