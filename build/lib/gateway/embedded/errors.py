"""The one error the embedded servers raise: its message says what to do."""

from __future__ import annotations


class EmbeddedServerError(RuntimeError):
    pass
