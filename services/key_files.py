"""Development key files in the data folder, created once even when several processes start at once.

A key is written to a private temporary file and then linked into place: `link` fails when the name
exists, so the first process's key wins, and no process ever reads a file that is still being written.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path


def read_or_create(path: Path, make: Callable[[], str]) -> str:
    """The file's text; when there is no file yet, `make()`'s text, written (owner-only) unless another
    process wrote its own first, in which case that one is read and returned."""
    if path.exists():
        return path.read_text()
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(make())
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process's key is in place: use that one
            os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)
    return path.read_text()
