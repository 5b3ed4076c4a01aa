"""Single-use OAuth `state` values in Redis, each bound to the user, the provider, the PKCE verifier and
where to send the browser back, kept 10 minutes.

Invariants: the state is 256 random bits; Redis keys hold only its SHA-256 (a caller's text never becomes
a key); `take` reads and deletes in one command (GETDEL), so of two callbacks with one state at most one
gets it; a value that does not have the state's shape is refused before Redis is asked.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import asdict, dataclass

from redis.asyncio import Redis

STATE_TTL_SECONDS = 600
_STATE_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # token_urlsafe(32)


@dataclass(frozen=True)
class PendingConnection:
    user_id: str
    provider: str
    code_verifier: str
    redirect_uri: str
    return_to: str
    scopes: tuple[str, ...]


def new_state() -> str:
    return secrets.token_urlsafe(32)


def new_code_verifier() -> str:
    """RFC 7636: 43 to 128 characters of the unreserved set; 64 random bytes give 86."""
    return base64.urlsafe_b64encode(secrets.token_bytes(64)).rstrip(b"=").decode()


def _key(state: str) -> str:
    return f"oauth:state:{hashlib.sha256(state.encode()).hexdigest()}"


def well_formed(state: str | None) -> bool:
    return state is not None and _STATE_SHAPE.fullmatch(state) is not None


async def remember(redis: Redis, state: str, pending: PendingConnection) -> None:
    await redis.set(_key(state), json.dumps(asdict(pending)), ex=STATE_TTL_SECONDS)


async def take(redis: Redis, state: str | None) -> PendingConnection | None:
    """The connection the state was made for, once; None for a replayed, expired or forged state."""
    if not well_formed(state):
        return None
    assert state is not None
    raw = await redis.getdel(_key(state))
    if raw is None:
        return None
    data = json.loads(raw)
    return PendingConnection(**{**data, "scopes": tuple(data.get("scopes") or ())})
