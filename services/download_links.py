"""Signed, expiring download links: `/documents/<id>/download?user=&expires=&kid=&signature=`.

The signature (HMAC-SHA256 under a key derived from the encryption keys, services/crypto.py) covers the
document, its owner and the expiry, so a link cannot be stretched in time or pointed at another
document or another user's; the route still checks the row (deleted since, or never the owner's)."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

from services.crypto import SecretBox

LINK_TTL_SECONDS = 15 * 60
PURPOSE = "document-download"


@dataclass(frozen=True)
class SignedDownload:
    document_id: uuid.UUID
    user_id: uuid.UUID


class LinkRefused(Exception):
    """A forged, altered or expired link."""


def _message(document_id: uuid.UUID, user_id: uuid.UUID, expires: int) -> bytes:
    return f"{document_id}:{user_id}:{expires}".encode()


def download_path(box: SecretBox, document_id: uuid.UUID, user_id: uuid.UUID, *, now: float | None = None) -> str:
    expires = int(now if now is not None else time.time()) + LINK_TTL_SECONDS
    kid, key = box.derived_key(PURPOSE)
    signature = hmac.new(key, _message(document_id, user_id, expires), hashlib.sha256).hexdigest()
    query = urlencode({"user": str(user_id), "expires": expires, "kid": kid, "signature": signature})
    return f"/documents/{document_id}/download?{query}"


def verify(
    box: SecretBox,
    document_id: str,
    user_id: str | None,
    expires: str | None,
    kid: str | None,
    signature: str | None,
    *,
    now: float | None = None,
) -> SignedDownload:
    """The link's document and owner; LinkRefused unless the signature holds and the link has not expired."""
    if not (user_id and expires and kid and signature) or len(signature) != 64 or len(kid) > 64:
        raise LinkRefused("incomplete link")
    try:
        document, user, until = uuid.UUID(document_id), uuid.UUID(user_id), int(expires)
        _, key = box.derived_key(PURPOSE, kid)
    except (ValueError, KeyError):
        raise LinkRefused("malformed link") from None
    expected = hmac.new(key, _message(document, user, until), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise LinkRefused("bad signature")
    if until < (now if now is not None else time.time()):
        raise LinkRefused("expired")
    return SignedDownload(document_id=document, user_id=user)
