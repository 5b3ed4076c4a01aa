"""The typed views of JSONB columns: stored camelCase JSON reads back field by field, and a stored value of
the wrong shape degrades to the field's default instead of failing the page it is on."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg

from graph.node import decode_global_id
from tests import factories as f
from tests.graph.paging import new_agent
from tests.graphql_client import GraphQLClient, SignedUp


def blank(value: Any) -> bool:
    """A default: null, empty, zero, false, or an object made only of those."""
    if isinstance(value, dict):
        return all(blank(item) for item in value.values())
    return value in (None, "", 0, [], False)


def on_node(global_id: str, selection: str) -> str:
    type_name = decode_global_id(global_id)[0]
    return f'{{ node(id: "{global_id}") {{ ... on {type_name} {{ {selection} }} }} }}'


async def set_json(pg: asyncpg.Connection, table: str, column: str, pk: uuid.UUID, value: Any) -> None:
    """Store any JSON (or SQL NULL for `None`) as is, bypassing every validation the API would apply."""
    await pg.execute(
        f"UPDATE {table} SET {column} = $2::jsonb WHERE id = $1", pk, None if value is None else json.dumps(value)
    )


# ---------------------------------------------------------------------------------------------------
# ChatSession.contextData

CONTEXT = """contextData {
  businessContext { currentProject clientInfo taskType }
  aiContext { personality memory preferences }
  integrationContext { activeConnections recentTasks } }"""


async def test_chat_context_reads_stored_camel_case_json(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    stored = {
        "businessContext": {
            "currentProject": "Shop fit-out",
            "clientInfo": {"name": "ACME", "abn": "51 824"},
            "taskType": "quote",
        },
        "aiContext": {
            "personality": "friendly",
            "memory": [{"fact": "prefers email"}, "plain note", 3],
            "preferences": {"tone": "warm", "length": 2},
        },
        "integrationContext": {"activeConnections": ["gmail", "slack"], "recentTasks": [{"id": "t-1"}]},
    }
    session = await f.session(pg, user.pk, context=stored)
    data = await client.data(on_node(f.gid("ChatSession", session), CONTEXT), token=user.token)
    assert data["node"]["contextData"] == stored


async def test_empty_chat_context_has_no_parts(client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection) -> None:
    await f.session(pg, user.pk, context={})
    data = await client.data(
        f"{{ viewer {{ chatSessions {{ edges {{ node {{ {CONTEXT} }} }} }} }} }}", token=user.token
    )
    assert data["viewer"]["chatSessions"]["edges"][0]["node"]["contextData"] == {
        "businessContext": None,
        "aiContext": None,
        "integrationContext": None,
    }


async def test_malformed_chat_context_degrades_without_failing_the_page(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    good = await f.session(pg, user.pk, minutes=5, context={"businessContext": {"currentProject": "Audit"}})
    wrong_types = await f.session(
        pg,
        user.pk,
        minutes=4,
        context={
            "businessContext": "not an object",
            "aiContext": {"personality": 5, "memory": "not a list", "preferences": [1, 2]},
            "integrationContext": {"activeConnections": [1, "gmail", None, {"a": 1}], "recentTasks": {"a": 1}},
        },
    )
    not_an_object = await f.session(pg, user.pk, minutes=3)
    await set_json(pg, "chat_sessions", "context_data", not_an_object, ["a", "list"])
    a_string = await f.session(pg, user.pk, minutes=2)
    await set_json(pg, "chat_sessions", "context_data", a_string, "text")
    sql_null = await f.session(pg, user.pk, minutes=1)
    await set_json(pg, "chat_sessions", "context_data", sql_null, None)

    body = await client.execute(
        f"{{ viewer {{ chatSessions {{ edges {{ node {{ id {CONTEXT} }} }} }} }} }}", token=user.token
    )
    assert "errors" not in body, body["errors"]
    nodes = [edge["node"] for edge in body["data"]["viewer"]["chatSessions"]["edges"]]
    assert [node["id"] for node in nodes] == [
        f.gid("ChatSession", pk) for pk in (good, wrong_types, not_an_object, a_string, sql_null)
    ]
    assert nodes[0]["contextData"]["businessContext"]["currentProject"] == "Audit"
    odd = nodes[1]["contextData"]
    assert blank(odd["businessContext"])
    assert odd["aiContext"] == {"personality": None, "memory": [], "preferences": [1, 2]}  # preferences: any
    assert odd["integrationContext"] == {"activeConnections": ["gmail"], "recentTasks": []}
    for node in nodes[2:]:
        assert node["contextData"] == {"businessContext": None, "aiContext": None, "integrationContext": None}


# ---------------------------------------------------------------------------------------------------
# Message.metadata

MESSAGE_METADATA = """metadata {
  attachments { type url name size }
  suggestions
  actions { type payload completed }
  aiMetadata { model temperature confidence intent entities } }"""


async def test_message_metadata_reads_stored_camel_case_json(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    stored = {
        "attachments": [
            {"type": "application/pdf", "url": "https://files.example/q.pdf", "name": "q.pdf", "size": 2048}
        ],
        "suggestions": ["Send the quote", "Wait a day"],
        "actions": [{"type": "create_invoice", "payload": {"amount": 120.5, "currency": "AUD"}, "completed": True}],
        "aiMetadata": {
            "model": "assistant-1",
            "temperature": 0.7,
            "confidence": 1,
            "intent": "invoice",
            "entities": [{"type": "money", "value": "120.50"}],
        },
    }
    session = await f.session(pg, user.pk)
    message = await f.message(pg, session, metadata=stored)
    data = await client.data(on_node(f.gid("Message", message), MESSAGE_METADATA), token=user.token)
    expected = json.loads(json.dumps(stored))
    expected["aiMetadata"]["confidence"] = 1.0  # a JSON integer is a fine Float
    assert data["node"]["metadata"] == expected


async def test_malformed_message_metadata_degrades_without_failing_the_page(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    session = await f.session(pg, user.pk)
    good = await f.message(pg, session, seconds=1, metadata={"suggestions": ["Yes"]})
    await f.message(
        pg,
        session,
        seconds=2,
        metadata={
            "attachments": [
                {"type": 1, "url": None, "name": "kept.pdf", "size": "big"},
                {"type": "image/png", "url": "u", "name": "huge.png", "size": 2**40},
            ],
            "suggestions": "not a list",
            "actions": [{"type": "remind", "completed": "yes", "payload": None}, {"type": ["x"], "completed": True}],
            "aiMetadata": {
                "model": ["m"],
                "temperature": "hot",
                "confidence": True,
                "intent": None,
                "entities": "none",
            },
        },
    )
    out_of_range = await f.message(pg, session, seconds=3)
    await pg.execute(
        """UPDATE messages SET metadata = '{"aiMetadata": {"temperature": 1e400,
                        "confidence": -1e309}}'::jsonb WHERE id = $1""",
        out_of_range,
    )  # not a GraphQL Float
    odd_type = await f.message(pg, session, seconds=4)
    await set_json(pg, "messages", "metadata", odd_type, 17)

    body = await client.execute(
        f"""{{ node(id: "{f.gid("ChatSession", session)}") {{ ... on ChatSession {{
        messages {{ edges {{ node {{ id {MESSAGE_METADATA} }} }} }} }} }} }}""",
        token=user.token,
    )
    assert "errors" not in body, body["errors"]
    nodes = [edge["node"] for edge in body["data"]["node"]["messages"]["edges"]]
    assert len(nodes) == 4
    assert nodes[0]["id"] == f.gid("Message", good)
    assert nodes[0]["metadata"]["suggestions"] == ["Yes"]
    odd = nodes[1]["metadata"]
    assert odd["attachments"] == [
        {"type": "", "url": "", "name": "kept.pdf", "size": 0},
        {"type": "image/png", "url": "u", "name": "huge.png", "size": 0},
    ]
    assert odd["suggestions"] == []
    assert odd["actions"] == [
        {"type": "remind", "payload": None, "completed": False},
        {"type": "", "payload": None, "completed": True},
    ]
    assert odd["aiMetadata"] == {"model": None, "temperature": None, "confidence": None, "intent": None, "entities": []}
    assert nodes[2]["metadata"]["aiMetadata"] == {
        "model": None,
        "temperature": None,
        "confidence": None,
        "intent": None,
        "entities": [],
    }
    assert nodes[3]["metadata"] == {"attachments": [], "suggestions": [], "actions": [], "aiMetadata": None}


# ---------------------------------------------------------------------------------------------------
# Document.extractedData

EXTRACTED = """extractedData {
  summary keyTerms
  entities { type value confidence startOffset endOffset }
  metadata { pageCount language author createdDate modifiedDate }
  businessContext { relevantTo actionItems contacts dates } }"""


async def test_document_extracted_data_reads_stored_camel_case_json(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    stored = {
        "summary": "Invoice for March services",
        "keyTerms": ["GST", "net 30"],
        "entities": [{"type": "money", "value": "$1,200.00", "confidence": 0.92, "startOffset": 10, "endOffset": 19}],
        "metadata": {
            "pageCount": 3,
            "language": "en",
            "author": "Ada Lovelace",
            "createdDate": "2026-01-01",
            "modifiedDate": "2026-01-02",
        },
        "businessContext": {
            "relevantTo": ["finance"],
            "actionItems": ["pay by 30 April"],
            "contacts": [{"name": "Bob", "email": "bob@example.com"}],
            "dates": ["2026-04-30T00:00:00+00:00"],
        },
    }
    document = await f.document(pg, user.pk, extracted=stored)
    data = await client.data(on_node(f.gid("Document", document), EXTRACTED), token=user.token)
    assert data["node"]["extractedData"] == stored


async def test_malformed_extracted_data_degrades_without_failing_the_page(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    good = await f.document(pg, user.pk, minutes=3, extracted={"summary": "Fine", "keyTerms": ["tax"]})
    await f.document(
        pg,
        user.pk,
        minutes=2,
        extracted={
            "summary": 42,
            "keyTerms": [1, "GST", None],
            "entities": [{"type": "money", "confidence": "high", "startOffset": 1.5, "value": 7}],
            "metadata": {"pageCount": "ten", "language": 5, "author": "Ada"},
            "businessContext": {
                "dates": ["not a date", 5, "2026-03-01T09:30:00+00:00"],
                "relevantTo": "finance",
                "contacts": "nobody",
            },
        },
    )
    odd_type = await f.document(pg, user.pk, minutes=1)
    await set_json(pg, "documents", "extracted_data", odd_type, [1, 2, 3])

    body = await client.execute(
        f"{{ viewer {{ documents {{ edges {{ node {{ id {EXTRACTED} }} }} }} }} }}", token=user.token
    )
    assert "errors" not in body, body["errors"]
    nodes = [edge["node"] for edge in body["data"]["viewer"]["documents"]["edges"]]
    assert len(nodes) == 3
    assert nodes[0]["id"] == f.gid("Document", good)
    assert nodes[0]["extractedData"]["summary"] == "Fine"
    assert nodes[0]["extractedData"]["keyTerms"] == ["tax"]
    odd = nodes[1]["extractedData"]
    assert odd["summary"] is None
    assert odd["keyTerms"] == ["GST"]
    assert odd["entities"] == [
        {"type": "money", "value": "", "confidence": None, "startOffset": None, "endOffset": None}
    ]
    assert odd["metadata"] == {
        "pageCount": None,
        "language": None,
        "author": "Ada",
        "createdDate": None,
        "modifiedDate": None,
    }
    assert odd["businessContext"] == {
        "relevantTo": [],
        "actionItems": [],
        "contacts": [],
        "dates": ["2026-03-01T09:30:00+00:00"],
    }
    assert nodes[2]["extractedData"] == {
        "summary": None,
        "keyTerms": [],
        "entities": [],
        "metadata": None,
        "businessContext": None,
    }


# ---------------------------------------------------------------------------------------------------
# Integration.metadata

INTEGRATION_METADATA = """metadata {
  email displayName avatar organizationId
  lastError { code message timestamp }
  syncStats { totalSynced lastSyncDuration errors } }"""


async def test_integration_metadata_reads_stored_camel_case_json(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    stored = {
        "email": "ada@example.com",
        "displayName": "Ada L.",
        "avatar": "https://img.example/ada.png",
        "organizationId": "org-42",
        "lastError": {"code": "invalid_grant", "message": "Token expired", "timestamp": "2026-01-05T10:00:00+00:00"},
        "syncStats": {"totalSynced": 1200, "lastSyncDuration": 3500, "errors": 2},
    }
    integration = await f.integration(pg, user.pk, metadata=stored)
    data = await client.data(on_node(f.gid("Integration", integration), INTEGRATION_METADATA), token=user.token)
    assert data["node"]["metadata"] == stored


async def test_malformed_integration_metadata_degrades_without_failing_the_page(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    await f.integration(pg, user.pk, provider="gmail", metadata={"email": "ada@example.com"})
    await f.integration(
        pg,
        user.pk,
        provider="hubspot",
        metadata={
            "email": ["a@example.com"],
            "displayName": None,
            "lastError": {"code": 401, "message": "Unauthorized", "timestamp": "yesterday"},
            "syncStats": {"totalSynced": 2**40, "lastSyncDuration": "slow", "errors": True},
        },
    )
    odd_type = await f.integration(pg, user.pk, provider="slack")
    await set_json(pg, "integrations", "metadata", odd_type, "connected")

    body = await client.execute(
        f"{{ viewer {{ integrations {{ edges {{ node {{ provider {INTEGRATION_METADATA} }} }} }} }} }}",
        token=user.token,
    )
    assert "errors" not in body, body["errors"]
    nodes = {
        edge["node"]["provider"]: edge["node"]["metadata"] for edge in body["data"]["viewer"]["integrations"]["edges"]
    }
    assert set(nodes) == {"GMAIL", "HUBSPOT", "SLACK"}
    assert nodes["GMAIL"]["email"] == "ada@example.com"
    odd = nodes["HUBSPOT"]
    assert odd["email"] is None
    assert odd["displayName"] is None
    assert odd["lastError"] == {"code": "", "message": "Unauthorized", "timestamp": None}
    assert odd["syncStats"] == {"totalSynced": 0, "lastSyncDuration": 0, "errors": 0}
    assert blank(nodes["SLACK"])


# ---------------------------------------------------------------------------------------------------
# MCPAgent.capabilities and .configuration

AGENT_JSON = """name
  capabilities { name description inputSchema outputSchema examples }
  configuration { timeout retries rateLimit { requests window } authentication { type } }"""
API_KEY = "sk-live-7f3a9c-never-show-me"


async def test_agent_capabilities_and_configuration_read_stored_json(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    capabilities = [
        {
            "name": "add",
            "description": "Add two numbers",
            "inputSchema": {
                "type": "object",
                "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                "required": ["a", "b"],
            },
            "outputSchema": {"type": "number"},
            "examples": [{"input": {"a": 1, "b": 2}, "output": 3}],
        },
        {
            "name": "echo",
            "description": "Echo",
            "inputSchema": {"type": "object"},
            "outputSchema": None,
            "examples": [],
        },
    ]
    configuration = {
        "timeout": 30000,
        "retries": 2,
        "rateLimit": {"requests": 60, "window": 60},
        "authentication": {"type": "apikey", "config": {"apiKey": API_KEY, "header": "X-Api-Key"}},
    }
    agent = await new_agent(pg, capabilities=capabilities, configuration=configuration)
    agent_id = f.gid("MCPAgent", agent)
    task = await f.task(pg, user.pk, agent)
    response = await client.post(
        f"""{{
        node(id: "{agent_id}") {{ ... on MCPAgent {{ {AGENT_JSON} }} }}
        # `zz-` names sort last, behind every agent other tests committed to the shared registry.
        agents(filter: {{capability: "add"}}, last: 100) {{ edges {{ node {{ id {AGENT_JSON} }} }} }}
        task: node(id: "{f.gid("Task", task)}") {{ ... on Task {{ agent {{ {AGENT_JSON} }} }} }}
    }}""",
        token=user.token,
    )
    body = response.json()
    assert "errors" not in body, body["errors"]
    node = body["data"]["node"]
    assert node["capabilities"] == capabilities
    assert node["configuration"] == {
        "timeout": 30000,
        "retries": 2,
        "rateLimit": {"requests": 60, "window": 60},
        "authentication": {"type": "APIKEY"},
    }
    listed = [edge["node"] for edge in body["data"]["agents"]["edges"] if edge["node"]["id"] == agent_id]
    assert listed and listed[0]["configuration"] == node["configuration"]
    assert body["data"]["task"]["agent"]["configuration"] == node["configuration"]
    # the stored credentials appear nowhere in the answer
    assert API_KEY not in response.text
    assert "X-Api-Key" not in response.text


async def test_agent_authentication_offers_only_its_type(client: GraphQLClient, user: SignedUp) -> None:
    data = await client.data('{ __type(name: "AgentAuthentication") { fields { name } } }', token=user.token)
    assert [field["name"] for field in data["__type"]["fields"]] == ["type"]


async def test_malformed_agent_json_degrades_without_failing_the_page(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    capability = f"cap-{uuid.uuid4().hex[:10]}"
    prefix = f"zz-json-{uuid.uuid4().hex[:8]}"
    secret = "hunter2-do-not-leak"
    await f.agent(
        pg,
        name=f"{prefix}-a",
        capabilities=[{"name": capability, "description": "fine"}],
        configuration={"timeout": 1000, "authentication": {"type": "oauth"}},
    )
    await f.agent(
        pg,
        name=f"{prefix}-b",
        capabilities=[
            {"name": capability, "description": None, "examples": "none"},
            "junk",
            7,
            None,
            {"name": 5, "description": ["x"], "inputSchema": "free text"},
        ],
        configuration={
            "timeout": "fast",
            "retries": 2**40,
            "rateLimit": "lots",
            "authentication": {"type": "kerberos", "config": {"password": secret}},
        },
    )
    not_a_list = await f.agent(pg, name=f"{prefix}-c", capabilities=[{"name": capability}])
    not_an_object = await f.agent(pg, name=f"{prefix}-d", capabilities=[{"name": capability}])
    await set_json(pg, "mcp_agents", "configuration", not_an_object, ["timeout", 5])
    await set_json(pg, "mcp_agents", "configuration", not_a_list, None)

    response = await client.post(
        f'{{ agents(filter: {{capability: "{capability}"}}) {{ edges {{ node {{ {AGENT_JSON} }} }} }} }}',
        token=user.token,
    )
    body = response.json()
    assert "errors" not in body, body["errors"]
    nodes = {edge["node"]["name"][-1]: edge["node"] for edge in body["data"]["agents"]["edges"]}
    assert sorted(nodes) == ["a", "b", "c", "d"]
    assert nodes["a"]["configuration"] == {
        "timeout": 1000,
        "retries": None,
        "rateLimit": None,
        "authentication": {"type": "OAUTH"},
    }
    odd = nodes["b"]
    assert odd["capabilities"] == [
        {"name": capability, "description": "", "inputSchema": None, "outputSchema": None, "examples": []},
        {"name": "", "description": "", "inputSchema": "free text", "outputSchema": None, "examples": []},
    ]
    assert odd["configuration"]["timeout"] is None
    assert odd["configuration"]["retries"] is None
    assert blank(odd["configuration"]["rateLimit"])
    assert odd["configuration"]["authentication"] == {"type": "NONE"}
    for name in ("c", "d"):
        assert nodes[name]["configuration"] == {
            "timeout": None,
            "retries": None,
            "rateLimit": None,
            "authentication": None,
        }
    assert secret not in response.text

    # capabilities that are not a list at all read as none
    await set_json(pg, "mcp_agents", "capabilities", not_a_list, {"name": capability})
    data = await client.data(on_node(f.gid("MCPAgent", not_a_list), AGENT_JSON), token=user.token)
    assert data["node"]["capabilities"] == []


# ---------------------------------------------------------------------------------------------------
# Task.metadata

TASK_METADATA = "metadata { priority scheduledFor dependencies userVisible notifyOnComplete }"


async def test_task_metadata_reads_stored_camel_case_json(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    stored = {
        "priority": "high",
        "scheduledFor": "2026-02-01T09:00:00+00:00",
        "dependencies": ["t-1", "t-2"],
        "userVisible": True,
        "notifyOnComplete": False,
    }
    task = await f.task(pg, user.pk, await new_agent(pg))
    await set_json(pg, "tasks", "metadata", task, stored)
    data = await client.data(on_node(f.gid("Task", task), TASK_METADATA), token=user.token)
    assert data["node"]["metadata"] == {**stored, "priority": "HIGH"}


async def test_malformed_task_metadata_degrades_without_failing_the_page(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    agent = await new_agent(pg)
    good = await f.task(pg, user.pk, agent, minutes=3)
    await set_json(pg, "tasks", "metadata", good, {"priority": "low", "userVisible": True})
    odd = await f.task(pg, user.pk, agent, minutes=2)
    await set_json(
        pg,
        "tasks",
        "metadata",
        odd,
        {
            "priority": "urgent",
            "scheduledFor": "tomorrow",
            "dependencies": [1, "t-2", None],
            "userVisible": "yes",
            "notifyOnComplete": 1,
        },
    )
    odd_priority = await f.task(pg, user.pk, agent, minutes=1)
    await set_json(pg, "tasks", "metadata", odd_priority, {"priority": {"level": 3}, "scheduledFor": 1700000000})
    sql_null = await f.task(pg, user.pk, agent, minutes=0)
    await set_json(pg, "tasks", "metadata", sql_null, None)

    body = await client.execute(
        f"{{ viewer {{ tasks {{ edges {{ node {{ id {TASK_METADATA} }} }} }} }} }}", token=user.token
    )
    assert "errors" not in body, body["errors"]
    nodes = [edge["node"] for edge in body["data"]["viewer"]["tasks"]["edges"]]
    assert [node["id"] for node in nodes] == [f.gid("Task", pk) for pk in (good, odd, odd_priority, sql_null)]
    assert nodes[0]["metadata"]["priority"] == "LOW"
    assert nodes[0]["metadata"]["userVisible"] is True
    assert nodes[1]["metadata"] == {
        "priority": None,
        "scheduledFor": None,
        "dependencies": ["t-2"],
        "userVisible": None,
        "notifyOnComplete": None,
    }
    for node in nodes[2:]:
        assert node["metadata"] == {
            "priority": None,
            "scheduledFor": None,
            "dependencies": [],
            "userVisible": None,
            "notifyOnComplete": None,
        }


# ---------------------------------------------------------------------------------------------------
# User.preferences

PREFERENCES = """preferences {
  notifications { email push sms }
  ai { personality proactiveMode autoSuggestions }
  integrations { autoConnect defaultCalendar defaultEmail } }"""
DEFAULT_PREFERENCES = {
    "notifications": {"email": True, "push": True, "sms": False},
    "ai": {"personality": "PROFESSIONAL", "proactiveMode": False, "autoSuggestions": True},
    "integrations": {"autoConnect": False, "defaultCalendar": None, "defaultEmail": None},
}


async def viewer_preferences(client: GraphQLClient, user: SignedUp) -> dict[str, Any]:
    body = await client.execute(f"{{ viewer {{ id {PREFERENCES} }} }}", token=user.token)
    assert "errors" not in body, body["errors"]
    assert body["data"]["viewer"]["id"] == user.id
    return body["data"]["viewer"]["preferences"]


async def test_user_preferences_read_stored_camel_case_json(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    stored = {
        "notifications": {"email": False, "push": False, "sms": True},
        "ai": {"personality": "concise", "proactiveMode": True, "autoSuggestions": False},
        "integrations": {"autoConnect": True, "defaultCalendar": "work", "defaultEmail": "ada@example.com"},
    }
    await set_json(pg, "users", "preferences", user.pk, stored)
    assert await viewer_preferences(client, user) == {**stored, "ai": {**stored["ai"], "personality": "CONCISE"}}


async def test_partial_user_preferences_fill_in_defaults(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    await set_json(pg, "users", "preferences", user.pk, {"ai": {"personality": "friendly"}})
    expected = {**DEFAULT_PREFERENCES, "ai": {**DEFAULT_PREFERENCES["ai"], "personality": "FRIENDLY"}}
    assert await viewer_preferences(client, user) == expected


async def test_malformed_user_preferences_degrade_to_defaults(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    await set_json(
        pg,
        "users",
        "preferences",
        user.pk,
        {
            "notifications": "all",
            "ai": {"personality": "sarcastic", "proactiveMode": "yes", "autoSuggestions": 0},
            "integrations": [1],
            "unknownKey": {"x": 1},
        },
    )
    assert await viewer_preferences(client, user) == DEFAULT_PREFERENCES
    for value in (None, [], "prefs", 3, {"ai": None, "notifications": None, "integrations": None}):
        await set_json(pg, "users", "preferences", user.pk, value)
        assert await viewer_preferences(client, user) == DEFAULT_PREFERENCES, value
