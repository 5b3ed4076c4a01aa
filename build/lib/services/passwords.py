"""argon2id password hashing, off the event loop.

One hash or check costs ~0.23 s of CPU and 64 MiB (the library's RFC 9106 low-memory profile). Run on
the event loop it would stall every other request for that long, so requests hand it to a small pool
of threads of its own (argon2's C code releases the GIL); the pool's size bounds the CPU and memory
that password work can take, however many requests ask at once.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory profile

# Verifying against this keeps a login with an unknown email as slow as one with a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0")

# At most two at once (argon2 itself runs 4 lanes each): room is left for the event loop.
POOL_SIZE = max(1, min(2, os.cpu_count() or 1))
_pool = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="argon2")


def hash_password(password: str) -> str:
    """Blocking: for the CLI and scripts. Requests use `hash_in_pool`."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Blocking: for the CLI and scripts. Requests use `verify_in_pool`."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def hash_in_pool(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_pool, hash_password, password)


async def verify_in_pool(password_hash: str | None, password: str) -> bool:
    return await asyncio.get_running_loop().run_in_executor(_pool, verify_password, password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
