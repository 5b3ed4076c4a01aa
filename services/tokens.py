"""JWT access tokens: Ed25519 signatures (JOSE alg `Ed25519`, RFC 9864), a `kid` on every token.

Keys come from GATEWAY_JWT_PRIVATE_KEYS (a JWK set; the first key signs, all of them verify, which is
how rotation works). In development a missing key set is generated once and kept in the data folder.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, KeySetSerialization, OKPKey

from services.key_files import read_or_create

ALGORITHM = "Ed25519"
AUDIENCE = "assistant-gateway"


class InvalidToken(Exception):
    """The bearer token is malformed, expired, or not signed by one of our keys."""


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    sign_in_id: str | None
    expires_at: int


# Tokens whose signature was verified, kept by their exact text: a client sends the same token with every
# request until it expires, and the signature check (parsing, Ed25519) was the bulk of each request's
# authentication. Claims (expiry, issuer, audience) are still validated on every use.
VERIFIED_TOKENS = 4096


class TokenKeys:
    def __init__(self, key_set: KeySet, *, issuer: str, ttl_seconds: int) -> None:
        if not key_set.keys:
            raise ValueError("the JWT key set is empty")
        self._key_set = key_set
        self._verified: dict[str, jwt.Token] = {}
        self._signing_key = key_set.keys[0]
        self.issuer = issuer
        self.ttl_seconds = ttl_seconds

    @property
    def signing_kid(self) -> str:
        return str(self._signing_key.kid)

    def public_jwks(self) -> KeySetSerialization:
        return self._key_set.as_dict(private=False)

    def issue(self, user_id: uuid.UUID, *, sign_in_id: str | None = None, now: int | None = None) -> str:
        issued = int(time.time()) if now is None else now
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": str(user_id),
            "iat": issued,
            "exp": issued + self.ttl_seconds,
            "jti": secrets.token_urlsafe(12),
        }
        if sign_in_id is not None:
            claims["sid"] = sign_in_id
        header = {"alg": ALGORITHM, "kid": self.signing_kid, "typ": "JWT"}
        return jwt.encode(header, claims, self._signing_key, algorithms=[ALGORITHM])

    def _decode(self, token: str) -> jwt.Token:
        decoded = self._verified.get(token)
        if decoded is None:
            decoded = jwt.decode(token, self._key_set, algorithms=[ALGORITHM])
            if len(self._verified) >= VERIFIED_TOKENS:
                del self._verified[next(iter(self._verified))]  # the oldest
            self._verified[token] = decoded
        return decoded

    def verify(self, token: str) -> AccessClaims:
        try:
            decoded = self._decode(token)
            registry = jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": AUDIENCE},
                sub={"essential": True},
                exp={"essential": True},
            )
            registry.validate(decoded.claims)
            if decoded.header.get("alg") != ALGORITHM:
                raise InvalidToken("unexpected algorithm")
            return AccessClaims(
                user_id=uuid.UUID(str(decoded.claims["sub"])),
                sign_in_id=decoded.claims.get("sid"),
                expires_at=int(decoded.claims["exp"]),
            )
        except (JoseError, ValueError, KeyError, TypeError) as error:
            raise InvalidToken(str(error)) from None


def generate_key_set() -> KeySet:
    key = OKPKey.generate_key("Ed25519", parameters={"kid": f"k-{secrets.token_hex(4)}"})
    return KeySet([key])


def load_key_set(raw: str) -> KeySet:
    return KeySet.import_key_set(json.loads(raw))


def dev_key_set(data_dir: Path) -> KeySet:
    """The development key set, generated on first use and kept (owner-only) in the data folder."""
    text = read_or_create(
        data_dir / "keys" / "jwt-keys.json", lambda: json.dumps(generate_key_set().as_dict(private=True))
    )
    return load_key_set(text)
