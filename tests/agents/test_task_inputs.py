"""runTask's checks (no worker here: tasks stay pending): the tool must exist, the input must match its
inputSchema, sessions and dependencies must be the viewer's; a valid task is stored pending and queued on
its priority's queue. cancelTask/retryTask state rules and ownership."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest
from redis.asyncio import Redis

from graph.node import decode_global_id
from tests.agents.flows import (
    CANCEL_TASK,
    CREATE_SESSION,
    RETRY_TASK,
    RUN_TASK,
    TASK_NODE,
    error_codes,
    make_operator,
    register_agent,
    request_error,
    run_task,
    when,
)
from tests.agents.mcp_peer import mcp_peer
from tests.graphql_client import GraphQLClient, SignedUp


@pytest.fixture
async def agent(client: GraphQLClient, pg: asyncpg.Connection) -> dict[str, Any]:
    operator = await make_operator(pg, await client.register())
    async with mcp_peer() as peer:
        return await register_agent(client, operator, peer.url)


def pk_of(global_id: str):
    return decode_global_id(global_id)[1]


async def tasks_of(pg: asyncpg.Connection, user: SignedUp) -> int:
    return int(await pg.fetchval("SELECT count(*) FROM tasks WHERE user_id = $1", user.pk))


async def run(client: GraphQLClient, user: SignedUp | None, fields: dict[str, Any]) -> dict[str, Any]:
    body = await client.execute(RUN_TASK, {"input": fields}, token=user.token if user else None)
    assert "errors" not in body, body
    return body["data"]["runTask"]  # type: ignore[no-any-return]


async def test_the_task_type_must_be_one_of_the_agents_tools(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp, agent: dict[str, Any]
) -> None:
    payload = await run(client, user, {"agentId": agent["id"], "taskType": "delete_everything", "input": {}})
    assert error_codes(payload) == [("input.taskType", "UNKNOWN_TOOL")] and payload["task"] is None
    assert await tasks_of(pg, user) == 0


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"a": "two", "b": 3}, [("input.input.a", "SCHEMA_MISMATCH")]),
        ({"a": 2}, [("input.input.b", "SCHEMA_MISMATCH")]),
        ({}, [("input.input.a", "SCHEMA_MISMATCH"), ("input.input.b", "SCHEMA_MISMATCH")]),
        ({"a": 1.5, "b": None}, [("input.input.a", "SCHEMA_MISMATCH"), ("input.input.b", "SCHEMA_MISMATCH")]),
        ([1, 2], [("input.input", "SCHEMA_MISMATCH")]),
        ("2+3", [("input.input", "SCHEMA_MISMATCH")]),
    ],
)
async def test_the_input_must_match_the_tools_input_schema(
    client: GraphQLClient,
    pg: asyncpg.Connection,
    user: SignedUp,
    agent: dict[str, Any],
    arguments: Any,
    expected: list[tuple[str, str]],
) -> None:
    payload = await run(client, user, {"agentId": agent["id"], "taskType": "add", "input": arguments})
    assert sorted(error_codes(payload)) == expected, payload
    assert all(error["message"] for error in payload["errors"])
    assert payload["task"] is None
    assert await tasks_of(pg, user) == 0


async def test_sessions_and_dependencies_must_be_the_viewers(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp, agent: dict[str, Any]
) -> None:
    other = await client.register()
    theirs = await run_task(client, other, agent["id"], "add", {"a": 1, "b": 1})
    their_session = (await client.data(CREATE_SESSION, {"input": {"title": "theirs"}}, token=other.token))[
        "createChatSession"
    ]["chatSession"]["id"]
    base = {"agentId": agent["id"], "taskType": "add", "input": {"a": 1, "b": 2}}

    payload = await run(client, user, {**base, "sessionId": their_session})
    assert error_codes(payload) == [("input.sessionId", "NOT_FOUND")]
    mine = await run_task(client, user, agent["id"], "add", {"a": 1, "b": 1})
    payload = await run(client, user, {**base, "dependencies": [mine["id"], theirs["id"]]})
    assert error_codes(payload) == [("input.dependencies.1", "NOT_FOUND")]
    assert await tasks_of(pg, user) == 1

    # Every violation at once.
    payload = await run(
        client, user, {**base, "input": {"a": "x", "b": 2}, "sessionId": their_session, "dependencies": [theirs["id"]]}
    )
    assert sorted(error_codes(payload)) == [
        ("input.dependencies.0", "NOT_FOUND"),
        ("input.input.a", "SCHEMA_MISMATCH"),
        ("input.sessionId", "NOT_FOUND"),
    ]

    # The viewer's own session and tasks are fine.
    session = (await client.data(CREATE_SESSION, {"input": {"title": "mine"}}, token=user.token))["createChatSession"][
        "chatSession"
    ]["id"]
    task = await run_task(
        client, user, agent["id"], "add", {"a": 1, "b": 2}, sessionId=session, dependencies=[mine["id"]]
    )
    assert task["metadata"]["dependencies"] == [str(pk_of(mine["id"]))]
    assert await pg.fetchval("SELECT session_id FROM tasks WHERE id = $1", pk_of(task["id"])) == pk_of(session)


async def test_unknown_deleted_and_inactive_agents(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp, agent: dict[str, Any]
) -> None:
    assert (
        request_error(
            await client.execute(
                RUN_TASK, {"input": {"agentId": agent["id"], "taskType": "add", "input": {"a": 1, "b": 1}}}
            )
        )
        == "UNAUTHENTICATED"
    )
    await pg.execute("UPDATE mcp_agents SET status = 'inactive' WHERE id = $1", pk_of(agent["id"]))
    payload = await run(client, user, {"agentId": agent["id"], "taskType": "add", "input": {"a": 1, "b": 1}})
    assert error_codes(payload) == [("input.agentId", "INVALID_STATE")]
    await pg.execute("UPDATE mcp_agents SET status = 'active', deleted_at = now() WHERE id = $1", pk_of(agent["id"]))
    payload = await run(client, user, {"agentId": agent["id"], "taskType": "add", "input": {"a": 1, "b": 1}})
    assert error_codes(payload) == [("input.agentId", "NOT_FOUND")]
    assert await tasks_of(pg, user) == 0


async def queued_jobs(redis: Redis, task_id: str) -> dict[str, list[str]]:
    pk = str(pk_of(task_id))
    found: dict[str, list[str]] = {}
    for priority in ("high", "medium", "low"):
        queued = await redis.lrange(f"saq:tasks-{priority}:queued", 0, -1)
        scheduled = await redis.zrange(f"saq:tasks-{priority}:incomplete", 0, -1)
        found[priority] = [job for job in {*queued, *scheduled} if f":task:{pk}:" in job]
    return found


async def forget_jobs(redis: Redis, jobs: dict[str, list[str]]) -> None:
    """No worker consumes this Redis database: take the test's jobs out again."""
    for priority, ids in jobs.items():
        for job_id in ids:
            await redis.lrem(f"saq:tasks-{priority}:queued", 0, job_id)
            await redis.zrem(f"saq:tasks-{priority}:incomplete", job_id)
            await redis.delete(job_id)


async def test_a_valid_task_is_stored_pending_and_queued_by_priority(
    client: GraphQLClient, pg: asyncpg.Connection, redis: Redis, user: SignedUp, agent: dict[str, Any]
) -> None:
    tasks = {
        priority: await run_task(client, user, agent["id"], "add", {"a": 2, "b": 3}, priority=priority.upper())
        for priority in ("high", "medium", "low")
    }
    default = await run_task(client, user, agent["id"], "add", {"a": 2, "b": 3})
    try:
        for priority, task in tasks.items():
            jobs = await queued_jobs(redis, task["id"])
            assert {name: len(ids) for name, ids in jobs.items()} == {
                name: int(name == priority) for name in ("high", "medium", "low")
            }, (priority, jobs)
            assert task["metadata"]["priority"] == priority.upper()
            assert await redis.exists(f"task:enqueued:{pk_of(task['id'])}") == 1
        assert [len(ids) for ids in (await queued_jobs(redis, default["id"])).values()] == [0, 1, 0]

        row = await pg.fetchrow(
            "SELECT status, input_payload, started_at, completed_at, retry_count, user_id FROM tasks WHERE id = $1",
            pk_of(tasks["high"]["id"]),
        )
        assert row["status"] == "pending" and row["completed_at"] is None and row["retry_count"] == 0
        assert row["input_payload"] == '{"a": 2, "b": 3}' and row["user_id"] == user.pk
        assert row["started_at"] == when(tasks["high"]["startedAt"])  # the creation time, until it runs
        assert tasks["high"]["outputPayload"] is None and tasks["high"]["inputPayload"] == {"a": 2, "b": 3}
    finally:
        for task in (*tasks.values(), default):
            await forget_jobs(redis, await queued_jobs(redis, task["id"]))


async def test_scheduled_tasks_are_queued_for_their_time(
    client: GraphQLClient, redis: Redis, user: SignedUp, agent: dict[str, Any]
) -> None:
    from datetime import UTC, datetime, timedelta

    later = datetime.now(UTC) + timedelta(hours=1)
    task = await run_task(client, user, agent["id"], "add", {"a": 1, "b": 1}, scheduledFor=later.isoformat())
    jobs = await queued_jobs(redis, task["id"])
    try:
        assert len(jobs["medium"]) == 1
        assert not await redis.lpos("saq:tasks-medium:queued", jobs["medium"][0])  # not runnable yet
        score = await redis.zscore("saq:tasks-medium:incomplete", jobs["medium"][0])
        assert abs(score - later.timestamp()) < 2
        assert when(task["metadata"]["scheduledFor"]) == later
    finally:
        await forget_jobs(redis, jobs)


async def test_cancel_and_retry_follow_the_status_rules(
    client: GraphQLClient, redis: Redis, user: SignedUp, agent: dict[str, Any]
) -> None:
    task = await run_task(client, user, agent["id"], "add", {"a": 1, "b": 1})
    ids = {"input": {"taskId": task["id"]}}
    try:
        retried = (await client.data(RETRY_TASK, ids, token=user.token))["retryTask"]
        assert error_codes(retried) == [("input.taskId", "INVALID_STATE")]  # only failed tasks

        other = await client.register()
        for document in (CANCEL_TASK, RETRY_TASK):
            foreign = next(iter((await client.data(document, ids, token=other.token)).values()))
            assert error_codes(foreign) == [("input.taskId", "NOT_FOUND")]
            assert request_error(await client.execute(document, ids)) == "UNAUTHENTICATED"
        assert (await client.data(TASK_NODE, {"id": task["id"]}, token=other.token))["node"] is None

        cancelled = (await client.data(CANCEL_TASK, ids, token=user.token))["cancelTask"]
        assert cancelled["errors"] == [] and cancelled["task"]["status"] == "CANCELLED"
        assert cancelled["task"]["completedAt"] is not None
        for document in (CANCEL_TASK, RETRY_TASK):
            again = next(iter((await client.data(document, ids, token=user.token)).values()))
            assert error_codes(again) == [("input.taskId", "INVALID_STATE")]
        node = (await client.data(TASK_NODE, {"id": task["id"]}, token=user.token))["node"]
        assert node["status"] == "CANCELLED"
    finally:
        await forget_jobs(redis, await queued_jobs(redis, task["id"]))


@pytest.mark.parametrize(
    "scheduled_for",
    [
        "0001-01-01T00:00:00",  # naive: the reproduced poison (answered "Unexpected error." yet stored)
        "NOW",  # naive, near now
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+14:00",
        "PAST",
        "9999-12-31T23:59:59-14:00",
        "FUTURE",
    ],
)
async def test_scheduled_for_needs_a_zone_and_a_sane_range(
    client: GraphQLClient,
    pg: asyncpg.Connection,
    redis: Redis,
    user: SignedUp,
    agent: dict[str, Any],
    scheduled_for: str,
) -> None:
    now = datetime.now(UTC)
    value = {
        "NOW": now.replace(tzinfo=None).isoformat(),
        "PAST": (now - timedelta(days=2)).isoformat(),
        "FUTURE": (now + timedelta(days=400)).isoformat(),
    }.get(scheduled_for, scheduled_for)
    payload = await run(
        client, user, {"agentId": agent["id"], "taskType": "add", "input": {"a": 1, "b": 2}, "scheduledFor": value}
    )
    assert error_codes(payload) == [("input.scheduledFor", "INVALID")] and payload["task"] is None
    assert await tasks_of(pg, user) == 0  # nothing stored, nothing queued

    # Inside the range, with any zone: stored in UTC, the same instant.
    for at in (now - timedelta(hours=23), now + timedelta(days=364)):
        local = at.astimezone(timezone(timedelta(hours=-5)))
        task = await run_task(client, user, agent["id"], "add", {"a": 1, "b": 2}, scheduledFor=local.isoformat())
        assert when(task["metadata"]["scheduledFor"]) == at
        assert when(task["metadata"]["scheduledFor"]).utcoffset() == timedelta(0)
        await forget_jobs(redis, await queued_jobs(redis, task["id"]))
