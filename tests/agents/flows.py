"""GraphQL documents and small helpers shared by the agent and task tests."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from tests.graphql_client import GraphQLClient, SignedUp

AGENT_FIELDS = """id name description endpoint status version healthCheckUrl lastHealthCheck healthStatus
  capabilities { name description inputSchema outputSchema }
  configuration { timeout retries rateLimit { requests window } authentication { type } }"""
TASK_FIELDS = """id taskType status inputPayload outputPayload errorMessage startedAt runStartedAt completedAt
  processingTimeMs retryCount metadata { priority scheduledFor dependencies }"""
ERRORS = "errors { field code message }"

REGISTER_AGENT = f"""mutation($input: RegisterAgentInput!) {{
  registerAgent(input: $input) {{ agent {{ {AGENT_FIELDS} }} {ERRORS} }} }}"""
UPDATE_AGENT = f"""mutation($input: UpdateAgentInput!) {{
  updateAgent(input: $input) {{ agent {{ {AGENT_FIELDS} }} {ERRORS} }} }}"""
DELETE_AGENT = f"""mutation($input: DeleteAgentInput!) {{
  deleteAgent(input: $input) {{ agent {{ id }} {ERRORS} }} }}"""
RESTORE_AGENT = f"""mutation($input: RestoreAgentInput!) {{
  restoreAgent(input: $input) {{ agent {{ {AGENT_FIELDS} deletedAt }} {ERRORS} }} }}"""
DEACTIVATE_AGENT = f"""mutation($input: DeactivateAgentInput!) {{
  deactivateAgent(input: $input) {{ agent {{ {AGENT_FIELDS} }} {ERRORS} }} }}"""
ACTIVATE_AGENT = f"""mutation($input: ActivateAgentInput!) {{
  activateAgent(input: $input) {{ agent {{ {AGENT_FIELDS} }} {ERRORS} }} }}"""
REFRESH_AGENT = f"""mutation($input: RefreshAgentCapabilitiesInput!) {{
  refreshAgentCapabilities(input: $input) {{ agent {{ {AGENT_FIELDS} }} {ERRORS} }} }}"""
CHECK_HEALTH = f"""mutation($input: CheckAgentHealthInput!) {{
  checkAgentHealth(input: $input) {{ agent {{ {AGENT_FIELDS} }} {ERRORS} }} }}"""
AGENT_NODE = f"""query($id: ID!) {{ node(id: $id) {{ ... on MCPAgent {{ {AGENT_FIELDS} }} }} }}"""
AGENTS = f"""{{ agents(first: 100) {{ totalCount edges {{ node {{ {AGENT_FIELDS} }} }} }} }}"""

RUN_TASK = f"""mutation($input: RunTaskInput!) {{ runTask(input: $input) {{ task {{ {TASK_FIELDS} }} {ERRORS} }} }}"""
CANCEL_TASK = f"""mutation($input: CancelTaskInput!) {{
  cancelTask(input: $input) {{ task {{ {TASK_FIELDS} }} {ERRORS} }} }}"""
RETRY_TASK = f"""mutation($input: RetryTaskInput!) {{
  retryTask(input: $input) {{ task {{ {TASK_FIELDS} }} {ERRORS} }} }}"""
TASK_NODE = f"""query($id: ID!) {{ node(id: $id) {{ ... on Task {{ {TASK_FIELDS} }} }} }}"""
CREATE_SESSION = """mutation($input: CreateChatSessionInput!) {
  createChatSession(input: $input) { chatSession { id } errors { code } } }"""

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}
RANK = {"PENDING": 0, "RUNNING": 1, "COMPLETED": 2, "FAILED": 2, "CANCELLED": 2}


def unique_name(prefix: str = "agent") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def agent_input(
    endpoint: str,
    *,
    name: str | None = None,
    api_key: str | None = None,
    header: str = "X-API-Key",
    **configuration: Any,
) -> dict[str, Any]:
    config: dict[str, Any] = {"timeout": 5000, "retries": 0, **configuration}
    if api_key is not None:
        config["authentication"] = {"type": "APIKEY", "apiKey": api_key, "header": header}
    return {
        "name": unique_name() if name is None else name,
        "endpoint": endpoint,
        "description": "A test peer",
        "configuration": config,
    }


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def error_codes(payload: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(error["field"], error["code"]) for error in payload["errors"]]


def request_error(body: dict[str, Any]) -> str:
    """The code of a request-level GraphQL error (a denial, not a payload error)."""
    assert body.get("data") is None or all(value is None for value in body["data"].values()), body
    return str(body["errors"][0]["extensions"]["code"])


async def make_operator(pg: asyncpg.Connection, user: SignedUp) -> SignedUp:
    await pg.execute("UPDATE users SET role = 'operator' WHERE id = $1", user.pk)
    return user


async def register_agent(client: GraphQLClient, operator: SignedUp, endpoint: str, **options: Any) -> dict[str, Any]:
    payload = (await client.data(REGISTER_AGENT, {"input": agent_input(endpoint, **options)}, token=operator.token))[
        "registerAgent"
    ]
    assert payload["errors"] == [], payload["errors"]
    return payload["agent"]  # type: ignore[no-any-return]


async def run_task(
    client: GraphQLClient, user: SignedUp, agent_id: str, task_type: str, arguments: Any, **extra: Any
) -> dict[str, Any]:
    payload = (
        await client.data(
            RUN_TASK,
            {"input": {"agentId": agent_id, "taskType": task_type, "input": arguments, **extra}},
            token=user.token,
        )
    )["runTask"]
    assert payload["errors"] == [], payload["errors"]
    assert payload["task"]["status"] == "PENDING"
    return payload["task"]  # type: ignore[no-any-return]


async def task_node(client: GraphQLClient, user: SignedUp, task_id: str) -> dict[str, Any]:
    body = await client.execute(TASK_NODE, {"id": task_id}, token=user.token)
    assert "errors" not in body, body
    return body["data"]["node"]  # type: ignore[no-any-return]


async def wait_for_task(
    client: GraphQLClient,
    user: SignedUp,
    task_id: str,
    statuses: set[str],
    *,
    timeout: float = 15.0,
    seen: list[str] | None = None,
) -> dict[str, Any]:
    """Poll the task until its status is one of `statuses`; records every status observed in `seen`."""
    deadline = time.monotonic() + timeout
    while True:
        node = await task_node(client, user, task_id)
        if seen is not None and (not seen or seen[-1] != node["status"]):
            seen.append(node["status"])
        if node["status"] in statuses:
            return node
        assert node["status"] not in TERMINAL, f"task ended {node['status']}, waiting for {statuses}: {node}"
        assert time.monotonic() < deadline, f"task still {node['status']} after {timeout} s: {node}"
        await asyncio.sleep(0.1)


def assert_forward(statuses: list[str]) -> None:
    """Status never moves backwards (retryTask aside, which the caller does not include)."""
    ranks = [RANK[status] for status in statuses]
    assert ranks == sorted(ranks), statuses
    assert len([s for s in statuses if RANK[s] == 2]) <= 1, statuses
