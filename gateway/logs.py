"""Logs as JSON lines: one object per record with its time, level, logger and message, plus the request id,
user id and operation name of the request it belongs to (context variables set by the web process), and any
`extra` fields a caller adds. Secrets never reach a record: tokens and passwords are not logged anywhere,
and SQL parameters are hidden by the engine (gateway/db.py)."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
user_id: ContextVar[str | None] = ContextVar("user_id", default=None)
operation_name: ContextVar[str | None] = ContextVar("operation_name", default=None)

# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged as a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, variable in (("request_id", request_id), ("user_id", user_id), ("operation", operation_name)):
            value = variable.get()
            if value is not None:
                entry[name] = value
        entry.update({key: value for key, value in vars(record).items() if key not in _STANDARD and value is not None})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(json_lines: bool = True, level: int = logging.INFO) -> None:
    """Route every logger (ours, uvicorn's, saq's) to stderr, as JSON lines unless asked for text."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json_lines else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our own line per operation replaces uvicorn's access log (which would log query strings).
    logging.getLogger("uvicorn.access").disabled = True
