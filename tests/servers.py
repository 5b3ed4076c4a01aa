"""Where the tests find real PostgreSQL and Redis: the GATEWAY_TEST_* URLs when set (CI uses the
machine's servers), otherwise the same embedded servers `gateway serve` uses, under a test data folder."""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import uuid
from pathlib import Path

from sqlalchemy.engine import make_url

from gateway import embedded


def test_data_dir() -> Path:
    configured = os.environ.get("GATEWAY_TEST_DATA_DIR")
    if configured:
        path = Path(configured)
    else:
        base = Path("/var/lib/assistant-gateway-test") if os.geteuid() == 0 else Path(tempfile.gettempdir())
        # One folder per install: a run from another checkout finds servers that are not its own on a
        # shared folder and replaces them, which would pull the database from under a concurrent run.
        path = base / f"embedded-{hashlib.sha256(sys.prefix.encode()).hexdigest()[:10]}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def server_url() -> str:
    """An admin URL (database `postgres`) on the test PostgreSQL server."""
    url = os.environ.get("GATEWAY_TEST_DATABASE_URL")
    if url is None:
        url = embedded.start_postgres(test_data_dir(), database="postgres")
    return make_url(url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def redis_url() -> str:
    url = os.environ.get("GATEWAY_TEST_REDIS_URL")
    return url if url is not None else embedded.start_redis(test_data_dir())


def with_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def scratch_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def stop_embedded() -> None:
    """Stop the embedded servers this test process started (none when GATEWAY_TEST_* are set)."""
    embedded.stop_all()
