"""Secrets at rest: AES-256-GCM with key ids, so keys can rotate (new data under the first key, old
data still readable under the others). Stored form: `v1:<kid>:<base64(nonce + ciphertext)>`."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services.key_files import read_or_create

VERSION = "v1"


class DecryptionError(Exception):
    pass


class SecretBox:
    def __init__(self, keys: dict[str, bytes], primary: str) -> None:
        if primary not in keys:
            raise ValueError("the primary key id has no key")
        for kid, key in keys.items():
            if len(key) != 32 or ":" in kid:
                raise ValueError(f"key {kid!r} must be 32 bytes and its id free of ':'")
        self._keys = keys
        self.primary = primary

    @classmethod
    def from_setting(cls, value: str) -> SecretBox:
        """`kid:base64key,kid2:base64key`; the first id encrypts."""
        keys: dict[str, bytes] = {}
        for part in value.split(","):
            kid, _, encoded = part.strip().partition(":")
            keys[kid] = base64.b64decode(encoded)
        return cls(keys, primary=next(iter(keys)))

    def derived_key(self, purpose: str, kid: str | None = None) -> tuple[str, bytes]:
        """(key id, a 32-byte key for `purpose`) derived by HKDF from the key `kid` (default: the primary),
        so signing keys rotate with the encryption keys and no key serves two purposes. KeyError for an
        unknown id."""
        kid = self.primary if kid is None else kid
        derive = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"assistant-gateway:{purpose}".encode())
        return kid, derive.derive(self._keys[kid])

    def encrypt(self, plaintext: str, *, context: str = "") -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self._keys[self.primary]).encrypt(nonce, plaintext.encode(), context.encode())
        return f"{VERSION}:{self.primary}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, stored: str, *, context: str = "") -> str:
        try:
            version, kid, payload = stored.split(":", 2)
            if version != VERSION or kid not in self._keys:
                raise DecryptionError("unknown format or key id")
            raw = base64.b64decode(payload)
            return AESGCM(self._keys[kid]).decrypt(raw[:12], raw[12:], context.encode()).decode()
        except (ValueError, InvalidTag) as error:
            raise DecryptionError("cannot decrypt") from error


def dev_secret_box(data_dir: Path) -> SecretBox:
    """Development key, generated once and kept (owner-only) in the data folder."""
    text = read_or_create(
        data_dir / "keys" / "encryption-keys",
        lambda: f"dev-{secrets.token_hex(4)}:{base64.b64encode(os.urandom(32)).decode()}",
    )
    return SecretBox.from_setting(text.strip())
