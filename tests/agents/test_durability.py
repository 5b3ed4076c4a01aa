"""Durable tasks: a `gateway worker` killed mid-task does not leave the task running (the next worker's
sweep retries or fails it), and a Redis restart does not lose a pending task (the table is the source of
truth; the sweep queues it again). A gateway without a worker, real worker processes, a redis-server of
this module's own, a database of its own (the sweep looks at every task in it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from graph.node import decode_global_id
from tests.agents.conftest import LiveEnv, own_environment
from tests.agents.flows import make_operator, register_agent, run_task, task_node, wait_for_task, when
from tests.agents.mcp_peer import mcp_peer
from tests.agents.servers import WorkerProcess
from tests.conftest import _dsn
from tests.graphql_client import GraphQLClient, SignedUp
from tests.live import LiveServer, live_server


@pytest.fixture(scope="module")
def durable_env(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveEnv]:
    # No worker inside the gateway: the workers are processes this module starts and kills.
    with own_environment(pg_server_url, tmp_path_factory, "durable", run_worker=False) as environment:
        yield environment


@pytest.fixture(scope="module")
def gateway(durable_env: LiveEnv) -> Iterator[LiveServer]:
    with live_server(durable_env.env, log=durable_env.logs / "gateway.log") as server:
        yield server


@pytest.fixture
def workers(durable_env: LiveEnv) -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()


def start_worker(env: LiveEnv, workers: list[WorkerProcess], **settings: str) -> WorkerProcess:
    worker = WorkerProcess(
        {**env.env, **settings}, env.logs / f"worker-{len(workers)}-{datetime.now(UTC):%H%M%S%f}.log"
    )
    workers.append(worker)
    worker.wait_started()
    return worker


@pytest.fixture
async def api(gateway: LiveServer) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        yield GraphQLClient(http)


@pytest.fixture
async def db(durable_env: LiveEnv) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(_dsn(durable_env.database_url))
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def operator(api: GraphQLClient, db: asyncpg.Connection) -> SignedUp:
    return await make_operator(db, await api.register())


async def test_a_killed_worker_does_not_leave_its_tasks_running(
    api: GraphQLClient, db: asyncpg.Connection, durable_env: LiveEnv, operator: SignedUp, workers: list[WorkerProcess]
) -> None:
    owner = await api.register()
    async with mcp_peer() as peer:
        retrying = await register_agent(api, operator, peer.url, timeout=20_000, retries=1)
        once = await register_agent(api, operator, peer.url, timeout=20_000, retries=0)
        first = start_worker(durable_env, workers)

        again = await run_task(api, owner, retrying["id"], "sleep", {"seconds": 3})
        lost = await run_task(api, owner, once["id"], "sleep", {"seconds": 3})
        await wait_for_task(api, owner, again["id"], {"RUNNING"})
        await wait_for_task(api, owner, lost["id"], {"RUNNING"})
        # RUNNING is set when the task is claimed, a moment before its call reaches the agent: wait
        # until both calls are in the peer's hands, so the kill lands in the middle of both.
        deadline = asyncio.get_running_loop().time() + 15
        while peer.state.calls.get("sleep", 0) < 2:
            assert asyncio.get_running_loop().time() < deadline, peer.state.calls
            await asyncio.sleep(0.05)
        first.kill()  # SIGKILL in the middle of both tool calls

        await asyncio.sleep(0.5)
        assert (await task_node(api, owner, again["id"]))["status"] == "RUNNING"  # nobody has noticed yet
        start_worker(durable_env, workers)

        # The dead worker's heartbeat expires (15 s) and the new worker's sweep (every 5 s) takes over:
        # out of retries -> failed; otherwise -> pending again, retry_count + 1, and it runs to the end.
        failed = await wait_for_task(api, owner, lost["id"], {"FAILED"}, timeout=60)
        done = await wait_for_task(api, owner, again["id"], {"COMPLETED"}, timeout=60)
    assert "worker" in failed["errorMessage"] and failed["completedAt"] is not None
    assert done["retryCount"] == 1 and done["outputPayload"] == {"result": "slept 3.0"}
    assert when(done["runStartedAt"]) > when(failed["runStartedAt"])  # the retry's own attempt start
    assert when(done["runStartedAt"]) > when(done["startedAt"])  # the request time stays
    assert peer.state.calls["sleep"] == 3  # two interrupted calls, one complete re-run
    assert await db.fetchval("SELECT count(*) FROM tasks WHERE status = 'running'") == 0


async def test_a_pending_task_survives_a_redis_restart(
    api: GraphQLClient, durable_env: LiveEnv, operator: SignedUp, workers: list[WorkerProcess]
) -> None:
    owner = await api.register()
    redis = durable_env.redis
    async with mcp_peer() as peer:
        agent = await register_agent(api, operator, peer.url)

        # No worker running: the task waits in its queue...
        waiting = await run_task(api, owner, agent["id"], "add", {"a": 20, "b": 22})
        pk = decode_global_id(waiting["id"])[1]
        assert redis.cli("exists", f"task:enqueued:{pk}") == "1"
        assert redis.cli("--scan", "--pattern", f"saq:job:tasks-medium:task:{pk}:*")
        # ...when Redis restarts with nothing saved: the job is gone.
        redis.kill()
        redis.start()
        assert redis.cli("dbsize") == "0"

        start_worker(durable_env, workers)
        done = await wait_for_task(api, owner, waiting["id"], {"COMPLETED"}, timeout=20)
        assert done["outputPayload"] == {"total": 42}

        # With the worker up through a restart too: a task scheduled for later loses its job as well.
        at = datetime.now(UTC) + timedelta(seconds=2)
        later = await run_task(api, owner, agent["id"], "add", {"a": 1, "b": 2}, scheduledFor=at.isoformat())
        redis.kill()
        redis.start()
        assert redis.cli("dbsize") == "0"
        done = await wait_for_task(api, owner, later["id"], {"COMPLETED"}, timeout=30)
    assert done["outputPayload"] == {"total": 3}
    assert when(done["runStartedAt"]) >= at - timedelta(seconds=0.05)
    assert peer.state.calls == {"add": 2}


async def test_a_backlog_runs_each_task_once_while_the_sweep_runs(
    api: GraphQLClient, durable_env: LiveEnv, operator: SignedUp, workers: list[WorkerProcess]
) -> None:
    """The sweep (every 5 s) looks at pending tasks while the worker is starting them: it must not queue
    one whose job is being started or has just run. N tasks -> N calls at the peer and one saq job each."""
    owner = await api.register()
    redis = durable_env.redis
    count = 120
    async with mcp_peer() as peer:
        agent = await register_agent(api, operator, peer.url)
        submitted: list[dict[str, object]] = []
        for start in range(0, count, 10):  # queued with no worker up: a backlog the worker drains
            submitted += await asyncio.gather(
                *(run_task(api, owner, agent["id"], "add", {"a": n, "b": 1}) for n in range(start, start + 10))
            )
        # One owner: a cap above the backlog, or the cap's deferrals would queue tasks again (by design).
        start_worker(durable_env, workers, GATEWAY_TASKS_PER_USER=str(count))
        for task in submitted:
            await wait_for_task(api, owner, str(task["id"]), {"COMPLETED"}, timeout=90)
        await asyncio.sleep(6)  # one more sweep round after the last task: nothing is queued again
    assert peer.state.calls == {"add": count}
    jobs = {
        str(task["id"]): redis.cli(
            "--scan", "--pattern", f"saq:job:tasks-medium:task:{decode_global_id(str(task['id']))[1]}:*"
        ).split()
        for task in submitted
    }
    # The offending tasks with their job keys, so a failure says whether a job was doubled or lost.
    assert {task: keys for task, keys in jobs.items() if len(keys) != 1} == {}
