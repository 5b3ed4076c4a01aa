"""Tasks run by the worker (in-process in a live `gateway serve`, GATEWAY_RUN_WORKER=true) against real MCP
peers: results, retries with backoff, tool errors, output schemas, timeouts, schedules, dependencies,
priority queues, rate limits, cancel and retry."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from graph.node import decode_global_id
from jobs.queues import SLOTS
from models.tasks import TaskPriority
from tests.agents.conftest import LiveEnv
from tests.agents.flows import (
    CANCEL_TASK,
    RETRY_TASK,
    assert_forward,
    error_codes,
    make_operator,
    register_agent,
    run_task,
    task_node,
    wait_for_task,
    when,
)
from tests.agents.mcp_peer import mcp_peer
from tests.graphql_client import GraphQLClient, SignedUp


@pytest.fixture
async def operator(live: GraphQLClient, live_pg: asyncpg.Connection) -> SignedUp:
    return await make_operator(live_pg, await live.register())


@pytest.fixture
async def owner(live: GraphQLClient) -> SignedUp:
    return await live.register()


def pk_of(global_id: str):
    return decode_global_id(global_id)[1]


async def test_a_task_runs_to_completion_with_the_tools_output(
    live: GraphQLClient, operator: SignedUp, owner: SignedUp
) -> None:
    async with mcp_peer(api_key="peer-key-1") as peer:
        agent = await register_agent(live, operator, peer.url, api_key="peer-key-1")
        add = next(tool for tool in agent["capabilities"] if tool["name"] == "add")
        assert add["outputSchema"]["required"] == ["total"]  # the output will be checked against this
        task = await run_task(live, owner, agent["id"], "add", {"a": 2, "b": 3})
        seen: list[str] = []
        done = await wait_for_task(live, owner, task["id"], {"COMPLETED"}, seen=seen)
    assert_forward(seen)
    assert done["outputPayload"] == {"total": 5}
    assert done["errorMessage"] is None and done["retryCount"] == 0
    assert done["processingTimeMs"] is not None and done["processingTimeMs"] >= 0
    assert when(done["completedAt"]) >= when(done["runStartedAt"]) >= when(task["startedAt"])
    assert done["startedAt"] == task["startedAt"]  # the time it was asked for; the claim does not move it
    assert peer.state.calls == {"add": 1}  # the decrypted key got the call through the peer's check


async def test_failed_calls_are_retried_with_backoff(live: GraphQLClient, operator: SignedUp, owner: SignedUp) -> None:
    async with mcp_peer(fail_first=2) as peer:
        agent = await register_agent(live, operator, peer.url, retries=2)
        task = await run_task(live, owner, agent["id"], "flaky", {"label": "x"})
        seen: list[str] = []
        done = await wait_for_task(live, owner, task["id"], {"COMPLETED"}, seen=seen)
    assert_forward(seen)  # RUNNING through every retry, never back to PENDING
    assert done["retryCount"] == 2 and peer.state.calls["flaky"] == 3
    assert done["outputPayload"] == {"result": "ok x"} and done["errorMessage"] is None
    assert done["processingTimeMs"] >= 500  # backoff between the attempts (0.2 s, then 0.4 s)

    async with mcp_peer(fail_first=5) as peer:
        agent = await register_agent(live, operator, peer.url, retries=1)
        task = await run_task(live, owner, agent["id"], "flaky", {"label": "y"})
        done = await wait_for_task(live, owner, task["id"], {"FAILED"})
    assert done["retryCount"] == 1 and peer.state.calls["flaky"] == 2
    assert "not yet" in done["errorMessage"] and done["completedAt"] is not None


async def test_a_tool_error_fails_the_task_after_its_retries(
    live: GraphQLClient, operator: SignedUp, owner: SignedUp
) -> None:
    async with mcp_peer() as peer:
        agent = await register_agent(live, operator, peer.url, retries=1)
        task = await run_task(live, owner, agent["id"], "broken", {})
        seen: list[str] = []
        done = await wait_for_task(live, owner, task["id"], {"FAILED"}, seen=seen)
    assert_forward(seen)
    assert "this tool is broken" in done["errorMessage"]
    assert done["retryCount"] == 1 and peer.state.calls["broken"] == 2
    assert done["outputPayload"] is None and done["completedAt"] is not None


async def test_the_output_is_checked_against_the_output_schema(
    live: GraphQLClient, live_pg: asyncpg.Connection, operator: SignedUp, owner: SignedUp
) -> None:
    async with mcp_peer() as peer:
        agent = await register_agent(live, operator, peer.url)
        # The stored tool description says `total` is a string (stale, or an agent that lies): the real
        # output no longer matches it.
        capabilities = agent["capabilities"]
        for tool in capabilities:
            if tool["name"] == "add":
                tool["outputSchema"]["properties"]["total"] = {"type": "string"}
        await live_pg.execute(
            "UPDATE mcp_agents SET capabilities = $2::jsonb WHERE id = $1", pk_of(agent["id"]), json.dumps(capabilities)
        )
        task = await run_task(live, owner, agent["id"], "add", {"a": 2, "b": 3})
        done = await wait_for_task(live, owner, task["id"], {"FAILED"})
    assert "outputSchema" in done["errorMessage"]
    assert done["outputPayload"] == {"total": 5}  # what it did answer is kept for inspection


async def test_a_call_longer_than_the_timeout_fails(live: GraphQLClient, operator: SignedUp, owner: SignedUp) -> None:
    async with mcp_peer() as peer:
        agent = await register_agent(live, operator, peer.url, timeout=1000, retries=0)
        started = time.monotonic()
        task = await run_task(live, owner, agent["id"], "sleep", {"seconds": 6})
        done = await wait_for_task(live, owner, task["id"], {"FAILED"}, timeout=5)
    assert time.monotonic() - started < 5  # it did not wait for the 6 s tool
    assert done["processingTimeMs"] < 4000
    assert done["errorMessage"] and done["outputPayload"] is None


async def test_a_call_longer_than_saqs_default_job_timeout_completes(
    live: GraphQLClient, operator: SignedUp, owner: SignedUp
) -> None:
    # saq's own default would kill a job after 10 s; the agent allows 15 s per call.
    async with mcp_peer() as peer:
        agent = await register_agent(live, operator, peer.url, timeout=15_000)
        task = await run_task(live, owner, agent["id"], "sleep", {"seconds": 10.5})
        done = await wait_for_task(live, owner, task["id"], {"COMPLETED", "FAILED"}, timeout=16)
    assert done["status"] == "COMPLETED", done
    assert done["outputPayload"] == {"result": "slept 10.5"} and done["processingTimeMs"] >= 10_500


async def test_scheduled_for_is_honoured_and_started_at_holds_the_creation_time(
    live: GraphQLClient, operator: SignedUp, owner: SignedUp
) -> None:
    async with mcp_peer() as peer:
        agent = await register_agent(live, operator, peer.url)
        now = datetime.now(UTC)
        # Several times across one second: none may start early, whatever its fraction of a second.
        times = [now + timedelta(seconds=2 + 0.25 * k) for k in range(4)]
        tasks = [
            await run_task(live, owner, agent["id"], "add", {"a": k, "b": 1}, scheduledFor=at.isoformat())
            for k, at in enumerate(times)
        ]
        created = [when(task["startedAt"]) for task in tasks]
        assert all(c < at for c, at in zip(created, times, strict=True))
        while datetime.now(UTC) < times[0] - timedelta(seconds=0.3):
            for task, c in zip(tasks, created, strict=True):
                node = await task_node(live, owner, task["id"])
                assert node["status"] == "PENDING" and when(node["startedAt"]) == c, node
            assert peer.state.calls == {}
            await asyncio.sleep(0.2)
        done = [await wait_for_task(live, owner, task["id"], {"COMPLETED"}, timeout=10) for task in tasks]
    for task, at, c, k in zip(done, times, created, range(4), strict=True):
        assert when(task["runStartedAt"]) >= at, (k, task["runStartedAt"], at)  # not started before its time
        assert when(task["startedAt"]) == c  # still the time it was asked for
        assert when(task["metadata"]["scheduledFor"]) == at
        assert task["outputPayload"] == {"total": k + 1}


async def test_dependencies_are_waited_for_and_a_failed_one_fails_the_task(
    live: GraphQLClient, operator: SignedUp, owner: SignedUp
) -> None:
    async with mcp_peer() as peer:
        agent = await register_agent(live, operator, peer.url)
        first = await run_task(live, owner, agent["id"], "sleep", {"seconds": 1.5})
        then = await run_task(live, owner, agent["id"], "add", {"a": 1, "b": 2}, dependencies=[first["id"]])
        await wait_for_task(live, owner, first["id"], {"RUNNING"})
        assert (await task_node(live, owner, then["id"]))["status"] == "PENDING"
        broken = await run_task(live, owner, agent["id"], "broken", {})
        doomed = await run_task(
            live, owner, agent["id"], "add", {"a": 5, "b": 5}, dependencies=[first["id"], broken["id"]]
        )

        failed = await wait_for_task(live, owner, doomed["id"], {"FAILED"}, timeout=10)
        after = await wait_for_task(live, owner, then["id"], {"COMPLETED"}, timeout=10)
        first_done = await task_node(live, owner, first["id"])
    assert first_done["status"] == "COMPLETED"
    assert when(after["runStartedAt"]) >= when(first_done["completedAt"])
    assert after["outputPayload"] == {"total": 3}
    assert str(pk_of(broken["id"])) in failed["errorMessage"]
    assert failed["outputPayload"] is None
    assert peer.state.calls["add"] == 1  # the doomed task never called its tool


async def low_queue_fillers(live: GraphQLClient) -> list[SignedUp]:
    """One user per slot of the low-priority queue (one user runs at most GATEWAY_TASKS_PER_USER tasks
    at once)."""
    return [await live.register() for _ in range(SLOTS[TaskPriority.LOW])]


async def fill_low_queue(
    live: GraphQLClient, agent_id: str, seconds: float, users: list[SignedUp] | None = None
) -> list[tuple[SignedUp, dict[str, Any]]]:
    """Occupy every slot of the low-priority queue with a sleeping task, each of a user of its own."""
    users = users or await low_queue_fillers(live)
    busy = [
        (user, await run_task(live, user, agent_id, "sleep", {"seconds": seconds}, priority="LOW")) for user in users
    ]
    for user, task in busy:
        await wait_for_task(live, user, task["id"], {"RUNNING"})
    return busy


async def test_priorities_have_queues_of_their_own(
    live: GraphQLClient, worker_env: LiveEnv, operator: SignedUp, owner: SignedUp
) -> None:
    async with mcp_peer() as peer:
        agent = await register_agent(live, operator, peer.url)
        # Long low tasks hold every low slot, so another low task waits behind them...
        busy = await fill_low_queue(live, agent["id"], 2.5)
        behind = await run_task(live, owner, agent["id"], "add", {"a": 0, "b": 1}, priority="LOW")
        # ...while high and medium tasks go straight through their own queues.
        high = await run_task(live, owner, agent["id"], "add", {"a": 1, "b": 1}, priority="HIGH")
        medium = await run_task(live, owner, agent["id"], "add", {"a": 1, "b": 2}, priority="MEDIUM")
        high_done = await wait_for_task(live, owner, high["id"], {"COMPLETED"}, timeout=5)
        medium_done = await wait_for_task(live, owner, medium["id"], {"COMPLETED"}, timeout=5)
        assert {(await task_node(live, user, task["id"]))["status"] for user, task in busy} == {"RUNNING"}
        assert (await task_node(live, owner, behind["id"]))["status"] == "PENDING"
        behind_done = await wait_for_task(live, owner, behind["id"], {"COMPLETED"}, timeout=10)
        busy_done = [await wait_for_task(live, user, task["id"], {"COMPLETED"}) for user, task in busy]
    first_free = min(when(task["completedAt"]) for task in busy_done)
    assert when(high_done["completedAt"]) < first_free
    assert when(medium_done["completedAt"]) < first_free
    assert when(behind_done["runStartedAt"]) >= first_free

    for task, queue in ((high, "high"), (medium, "medium"), (behind, "low")):
        jobs = {
            name: worker_env.redis.cli("--scan", "--pattern", f"saq:job:tasks-{name}:task:{pk_of(task['id'])}:*")
            for name in ("high", "medium", "low")
        }
        assert {name: bool(found) for name, found in jobs.items()} == {
            name: name == queue for name in ("high", "medium", "low")
        }, jobs


async def test_the_agents_rate_limit_spaces_the_calls(live: GraphQLClient, operator: SignedUp, owner: SignedUp) -> None:
    async with mcp_peer() as peer:
        agent = await register_agent(live, operator, peer.url, rateLimit={"requests": 1, "window": 2})
        tasks = [await run_task(live, owner, agent["id"], "add", {"a": n, "b": n}) for n in (1, 2)]
        done = [await wait_for_task(live, owner, task["id"], {"COMPLETED"}, timeout=10) for task in tasks]
    starts = sorted(when(task["runStartedAt"]) for task in done)
    assert (starts[1] - starts[0]).total_seconds() >= 1.8, starts
    assert sorted(task["outputPayload"]["total"] for task in done) == [2, 4]
    assert peer.state.calls == {"add": 2}


async def test_cancelling_a_pending_task(live: GraphQLClient, operator: SignedUp, owner: SignedUp) -> None:
    async with mcp_peer() as peer:
        agent = await register_agent(live, operator, peer.url)
        at = datetime.now(UTC) + timedelta(seconds=1.5)
        task = await run_task(live, owner, agent["id"], "add", {"a": 1, "b": 1}, scheduledFor=at.isoformat())
        cancelled = (await live.data(CANCEL_TASK, {"input": {"taskId": task["id"]}}, token=owner.token))["cancelTask"]
        assert cancelled["errors"] == [] and cancelled["task"]["status"] == "CANCELLED"
        while datetime.now(UTC) < at + timedelta(seconds=1.5):
            await asyncio.sleep(0.25)
        node = await task_node(live, owner, task["id"])
    assert node["status"] == "CANCELLED" and node["outputPayload"] is None
    assert peer.state.calls == {}


async def test_cancelling_a_running_task_stops_it(live: GraphQLClient, operator: SignedUp, owner: SignedUp) -> None:
    async with mcp_peer() as peer:
        agent = await register_agent(live, operator, peer.url, timeout=20_000)
        fillers = await low_queue_fillers(live)
        started = time.monotonic()
        busy = await fill_low_queue(live, agent["id"], 5, fillers)
        follower = await run_task(live, owner, agent["id"], "add", {"a": 1, "b": 1}, priority="LOW")
        await asyncio.sleep(0.3)
        assert (await task_node(live, owner, follower["id"]))["status"] == "PENDING"  # no slot free

        holder, task = busy[0]
        cancelled = (await live.data(CANCEL_TASK, {"input": {"taskId": task["id"]}}, token=holder.token))["cancelTask"]
        assert cancelled["errors"] == [] and cancelled["task"]["status"] == "CANCELLED"
        completed_at = cancelled["task"]["completedAt"]

        # The worker lets go of the cancelled call: its slot is free again long before the tool would
        # have answered, and the waiting task runs.
        await wait_for_task(live, owner, follower["id"], {"COMPLETED"}, timeout=3)
        assert time.monotonic() - started < 4.5

        # And it never completes afterwards, while the others run to their end.
        for user, other in busy[1:]:
            await wait_for_task(live, user, other["id"], {"COMPLETED"}, timeout=8)
        await asyncio.sleep(0.3)
        node = await task_node(live, holder, task["id"])
    assert node["status"] == "CANCELLED"
    assert node["completedAt"] == completed_at and node["outputPayload"] is None


async def test_retrying_a_failed_task_runs_it_again(live: GraphQLClient, operator: SignedUp, owner: SignedUp) -> None:
    async with mcp_peer(fail_first=1) as peer:
        agent = await register_agent(live, operator, peer.url, retries=0)
        task = await run_task(live, owner, agent["id"], "flaky", {"label": "again"})
        failed = await wait_for_task(live, owner, task["id"], {"FAILED"})
        assert failed["errorMessage"]

        retried = (await live.data(RETRY_TASK, {"input": {"taskId": task["id"]}}, token=owner.token))["retryTask"]
        assert retried["errors"] == []
        assert retried["task"]["status"] == "PENDING"
        assert retried["task"]["errorMessage"] is None and retried["task"]["completedAt"] is None
        seen: list[str] = ["PENDING"]
        done = await wait_for_task(live, owner, task["id"], {"COMPLETED"}, seen=seen)
    assert_forward(seen)
    assert done["outputPayload"] == {"result": "ok again"} and peer.state.calls["flaky"] == 2
    again = (await live.data(RETRY_TASK, {"input": {"taskId": task["id"]}}, token=owner.token))["retryTask"]
    assert error_codes(again) == [("input.taskId", "INVALID_STATE")]
    cancel = (await live.data(CANCEL_TASK, {"input": {"taskId": task["id"]}}, token=owner.token))["cancelTask"]
    assert error_codes(cancel) == [("input.taskId", "INVALID_STATE")]
    assert (await task_node(live, owner, task["id"]))["status"] == "COMPLETED"
