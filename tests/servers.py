"""Where the tests find real PostgreSQL and Redis: the GATEWAY_TEST_* URLs when set (CI uses the
machine's servers), otherwise the same embedded servers `gateway serve` uses, under a test data folder."""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
    """The test Redis; under pytest-xdist each worker gets a database of its own (`gw0` the configured
    one, `gw1` the one below it, and so on), so attempt counters and queues of parallel tests never meet."""
    url = os.environ.get("GATEWAY_TEST_REDIS_URL") or embedded.start_redis(test_data_dir())
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return with_redis_database(url, lambda base: (base - int(worker[2:])) % 16) if worker.startswith("gw") else url


def with_redis_database(url: str, choose: Callable[[int], int]) -> str:
    """`url` (`redis://host:port/N` or `unix:///path?db=N`) naming the database `choose(N)` instead."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = dict(parse_qsl(parts.query))
        query["db"] = str(choose(int(query.get("db", 0))))
        return f"unix://{parts.path}?{urlencode(query)}"
    return urlunsplit(parts._replace(path=f"/{choose(int(parts.path.lstrip('/') or 0))}"))


def share_with_workers() -> None:
    """Start the embedded servers (those not configured) in this process, before pytest-xdist starts its
    workers, and hand their URLs on: the workers then share them, and the servers live as long as the run."""
    os.environ["GATEWAY_TEST_DATABASE_URL"] = server_url()
    os.environ.setdefault("GATEWAY_TEST_REDIS_URL", redis_url())


def with_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def scratch_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def stop_embedded() -> None:
    """Stop the embedded servers this test process started (none when GATEWAY_TEST_* are set)."""
    embedded.stop_all()
