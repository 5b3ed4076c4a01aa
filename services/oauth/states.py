"""Single-use OAuth `state` values in Redis, each bound to the user, the provider, the PKCE verifier and
where to send the browser back, kept 10 minutes.

Invariants: the state is 256 random bits; Redis keys hold only its SHA-256 (a caller's text never becomes
a key); `take` reads and deletes in one command (GETDEL), so of two callbacks with one state at most one
gets it; a value that does not have the state's shape is refused before Redis is asked. The pending
connection is stored encrypted (services/crypto.py, as tokens are at rest, bound to its key): whoever reads
Redis learns neither the PKCE verifier nor the user, the redirect or the scopes. It reads back under any
key id the box still holds (rotation); one that does not decrypt is a state never issued.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import asdict, dataclass

from redis.asyncio import Redis

from services.crypto import DecryptionError, SecretBox

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


def _context(key: str) -> str:
    """The ciphertext's associated data: a value copied under another state's key does not open."""
    return f"oauth-pending:{key}"


async def remember(redis: Redis, box: SecretBox, state: str, pending: PendingConnection) -> None:
    key = _key(state)
    sealed = box.encrypt(json.dumps(asdict(pending)), context=_context(key))
    await redis.set(key, sealed, ex=STATE_TTL_SECONDS)


async def take(redis: Redis, box: SecretBox, state: str | None) -> PendingConnection | None:
    """The connection the state was made for, once; None for a replayed, expired or forged state (or one
    sealed under a key this box no longer holds)."""
    if not well_formed(state):
        return None
    assert state is not None
    key = _key(state)
    raw = await redis.getdel(key)
    if raw is None:
        return None
    try:
        data = json.loads(box.decrypt(raw.decode() if isinstance(raw, bytes) else raw, context=_context(key)))
    except (DecryptionError, ValueError):
        return None
    return PendingConnection(**{**data, "scopes": tuple(data.get("scopes") or ())})
