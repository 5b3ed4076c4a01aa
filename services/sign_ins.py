"""Sign-ins in Redis (the seed's "user sessions: Redis with 24h TTL", sliding). This project says "sign-in" for
what the seed calls a user session, so that "session" means a chat session only.

A sign-in (`sid`, the JWT claim naming it) holds one live refresh token at a time. Refresh tokens are opaque
and stored only as their SHA-256. Each use rotates the token; the spent one is kept marked `rotated`, so
presenting it again is recognised as theft and ends the whole sign-in. Revocations are published so open
sockets close.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from enum import StrEnum

from redis.asyncio import Redis

from services import keys
from services.keys import REVOCATIONS_CHANNEL as REVOCATIONS_CHANNEL  # sockets listen on it (re-exported)
from services.revocations import ended_here
from services.revocations import is_revoked as is_revoked  # one Redis read (re-exported)

SIGN_IN_TTL_SECONDS = 24 * 60 * 60


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedSignIn:
    sign_in_id: str
    refresh_token: str
    user_id: uuid.UUID


class RefreshFailure(StrEnum):
    INVALID = "invalid"  # unknown, expired or revoked
    REUSED = "reused"  # a rotated token came back: the sign-in is ended


class RefreshRejected(Exception):
    def __init__(self, reason: RefreshFailure) -> None:
        super().__init__(reason.value)
        self.reason = reason


# Atomic rotation: check the presented token is the session's live one, mark it spent, store the new one.
# The sign-in's keys are named from what the token's record holds: ARGV[3] and ARGV[4] are their prefixes.
_ROTATE = """
local old = KEYS[1]
local new = KEYS[2]
local ttl = tonumber(ARGV[2])
local uid = redis.call('HGET', old, 'user_id')
if not uid then return {'invalid'} end
local sid = redis.call('HGET', old, 'sid')
if redis.call('HGET', old, 'state') ~= 'current' then return {'reused', sid, uid} end
local sid_key = ARGV[3] .. sid
if redis.call('EXISTS', sid_key) == 0 then return {'invalid'} end
redis.call('HSET', old, 'state', 'rotated')
redis.call('HSET', new, 'user_id', uid, 'sid', sid, 'state', 'current')
redis.call('EXPIRE', new, ttl)
redis.call('HSET', sid_key, 'current', ARGV[1])
redis.call('EXPIRE', sid_key, ttl)
redis.call('EXPIRE', ARGV[4] .. uid, ttl)
return {'ok', sid, uid}
"""


async def start(redis: Redis, user_id: uuid.UUID) -> IssuedSignIn:
    sid = secrets.token_urlsafe(16)
    refresh_token = secrets.token_urlsafe(32)
    token_hash = digest(refresh_token)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(keys.refresh_token(token_hash), mapping={"user_id": str(user_id), "sid": sid, "state": "current"})
        pipe.expire(keys.refresh_token(token_hash), SIGN_IN_TTL_SECONDS)
        pipe.hset(keys.sign_in(sid), mapping={"user_id": str(user_id), "current": token_hash})
        pipe.expire(keys.sign_in(sid), SIGN_IN_TTL_SECONDS)
        pipe.sadd(keys.sign_ins_of(user_id), sid)
        pipe.expire(keys.sign_ins_of(user_id), SIGN_IN_TTL_SECONDS)
        await pipe.execute()
    return IssuedSignIn(sign_in_id=sid, refresh_token=refresh_token, user_id=user_id)


async def rotate(redis: Redis, refresh_token: str) -> IssuedSignIn:
    new_token = secrets.token_urlsafe(32)
    new_hash = digest(new_token)
    outcome = await redis.eval(
        _ROTATE,
        2,
        keys.refresh_token(digest(refresh_token)),
        keys.refresh_token(new_hash),
        new_hash,
        SIGN_IN_TTL_SECONDS,
        keys.sign_in(""),
        keys.sign_ins_of(""),
    )  # type: ignore[misc]
    status = outcome[0]
    if status == "reused":
        await end(redis, outcome[1], uuid.UUID(outcome[2]))
        raise RefreshRejected(RefreshFailure.REUSED)
    if status != "ok":
        raise RefreshRejected(RefreshFailure.INVALID)
    return IssuedSignIn(sign_in_id=outcome[1], refresh_token=new_token, user_id=uuid.UUID(outcome[2]))


async def find(redis: Redis, refresh_token: str) -> tuple[str, uuid.UUID] | None:
    record = await redis.hgetall(keys.refresh_token(digest(refresh_token)))  # type: ignore[misc]
    if not record or not await redis.exists(keys.sign_in(record["sid"])):
        return None
    return record["sid"], uuid.UUID(record["user_id"])


async def end(redis: Redis, sid: str, user_id: uuid.UUID, *, grace_seconds: int = 3600) -> None:
    """End one sign-in: its refresh token stops working and sockets using it are closed. The revoked mark
    outlives every access token minted for it."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(keys.sign_in(sid))
        pipe.srem(keys.sign_ins_of(user_id), sid)
        pipe.set(keys.revoked_sign_in(sid), "1", ex=grace_seconds)
        pipe.publish(REVOCATIONS_CHANNEL, json.dumps({"sid": sid, "user_id": str(user_id)}))
        await pipe.execute()
    ended_here(sid)  # this process's requests see it at once; the others hear it on the channel


async def end_all(redis: Redis, user_id: uuid.UUID, *, keep: str | None = None) -> int:
    sids = [sid for sid in await redis.smembers(keys.sign_ins_of(user_id)) if sid != keep]  # type: ignore[misc]
    for sid in sids:
        await end(redis, sid, user_id)
    return len(sids)
