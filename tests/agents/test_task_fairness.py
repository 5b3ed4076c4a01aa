"""Tasks cannot be hoarded or poisoned (the worker runs in-process in a live `gateway serve`, real MCP
peers on loopback): one user's backlog of slow tasks leaves room for others (GATEWAY_TASKS_PER_USER,
default 2), and a stored task that cannot start ends FAILED with its reason instead of being queued again
every few seconds forever."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import asyncpg
import pytest

from graph.node import decode_global_id
from tests.agents.flows import CANCEL_TASK, make_operator, register_agent, run_task, task_node, wait_for_task
from tests.agents.mcp_peer import mcp_peer
from tests.graphql_client import GraphQLClient, SignedUp

PER_USER = 2  # GATEWAY_TASKS_PER_USER's default


@pytest.fixture
async def operator(live: GraphQLClient, live_pg: asyncpg.Connection) -> SignedUp:
    return await make_operator(live_pg, await live.register())


async def running_of(pg: asyncpg.Connection, user: SignedUp) -> int:
    return int(await pg.fetchval("SELECT count(*) FROM tasks WHERE user_id = $1 AND status = 'running'", user.pk))


async def test_one_users_backlog_does_not_starve_another(
    live: GraphQLClient, live_pg: asyncpg.Connection, operator: SignedUp
) -> None:
    hoarder, other = await live.register(), await live.register()
    async with mcp_peer() as peer:
        agent = await register_agent(live, operator, peer.url, timeout=60_000)
        backlog = [
            await run_task(live, hoarder, agent["id"], "sleep", {"seconds": 15}, priority="HIGH") for _ in range(20)
        ]
        deadline = time.monotonic() + 15
        while await running_of(live_pg, hoarder) < PER_USER:
            assert time.monotonic() < deadline, "the backlog never started"
            await asyncio.sleep(0.1)

        # The other user's task starts at once, not after the backlog's 15 s calls.
        mine = await run_task(live, other, agent["id"], "add", {"a": 2, "b": 2}, priority="HIGH")
        done = await wait_for_task(live, other, mine["id"], {"COMPLETED"}, timeout=8)
        assert done["outputPayload"] == {"total": 4}

        # Meanwhile the backlog holds at most its share, and waiting costs it no retry.
        for _ in range(10):
            assert await running_of(live_pg, hoarder) <= PER_USER
            await asyncio.sleep(0.2)
        assert peer.state.calls["sleep"] == PER_USER
        states = [await task_node(live, hoarder, task["id"]) for task in backlog]
        assert sorted(state["status"] for state in states) == ["PENDING"] * 18 + ["RUNNING"] * PER_USER
        assert {state["retryCount"] for state in states} == {0}

        for task in backlog:
            cancelled = (await live.data(CANCEL_TASK, {"input": {"taskId": task["id"]}}, token=hoarder.token))[
                "cancelTask"
            ]
            assert cancelled["errors"] == []


async def stored_task(pg: asyncpg.Connection, user: SignedUp, agent_id: str, meta: dict[str, Any]) -> uuid.UUID:
    """A pending task written straight to the table with no job queued, as rows stored before these
    checks were (or after a Redis restart): the sweep finds it."""
    pk = uuid.uuid4()
    await pg.execute(
        "INSERT INTO tasks (id, user_id, agent_id, task_type, input_payload, status, metadata)"
        " VALUES ($1, $2, $3, 'add', $4::jsonb, 'pending', $5::jsonb)",
        pk,
        user.pk,
        decode_global_id(agent_id)[1],
        json.dumps({"a": 1, "b": 1}),
        json.dumps(meta),
    )
    return pk


async def wait_for_row(pg: asyncpg.Connection, pk: uuid.UUID, status: str, timeout: float) -> asyncpg.Record:
    deadline = time.monotonic() + timeout
    while True:
        row = await pg.fetchrow("SELECT status, error_message, retry_count FROM tasks WHERE id = $1", pk)
        if row["status"] == status:
            return row
        assert time.monotonic() < deadline, f"task still {row['status']} after {timeout} s"
        await asyncio.sleep(0.25)


async def test_stored_tasks_that_cannot_start_end_failed_with_the_reason(
    live: GraphQLClient, live_pg: asyncpg.Connection, operator: SignedUp
) -> None:
    owner = await live.register()
    async with mcp_peer() as peer:
        agent = await register_agent(live, operator, peer.url)
        base = {"userVisible": True, "notifyOnComplete": False, "dependencies": []}
        # What runTask stored for scheduledFor "0001-01-01T00:00:00" before times needed a zone.
        naive = await stored_task(
            live_pg, owner, agent["id"], {**base, "priority": "high", "scheduledFor": "0001-01-01T00:00:00"}
        )
        # A priority no queue has: the sweep cannot queue it at all.
        unqueueable = await stored_task(live_pg, owner, agent["id"], {**base, "priority": "urgent"})

        failed = await wait_for_row(live_pg, naive, "failed", timeout=20)
        assert "time zone" in failed["error_message"]
        failed = await wait_for_row(live_pg, unqueueable, "failed", timeout=40)
        assert "could not be queued" in failed["error_message"] and "ValueError" in failed["error_message"]

        # The sweep goes on working for everyone: a pending task that lost its job still runs.
        fine = await stored_task(live_pg, owner, agent["id"], {**base, "priority": "medium"})
        await wait_for_row(live_pg, fine, "completed", timeout=20)
    assert peer.state.calls == {"add": 1}  # the two broken tasks never reached the agent
