"""The prompt is grounded in the user's own data: the session's recent messages within the budget, its
context, the user's preferences and best-matching documents (cited as attachments); never another user's
session or documents (the provider stand-in records what it received)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg

from tests.assistant.flows import EVENTS, final, new_session, send, until_final
from tests.assistant.provider_peer import RunningProvider
from tests.graphql_client import GraphQLClient, SignedUp
from tests.live import LiveServer
from tests.ws import transport_ws


async def add_document(pg: asyncpg.Connection, user: SignedUp, name: str, content: str) -> uuid.UUID:
    return await pg.fetchval(  # type: ignore[no-any-return]
        """INSERT INTO documents (user_id, filename, original_filename, mime_type, file_size, file_path,
                                  content_text, processing_status)
           VALUES ($1, $2, $2, 'text/plain', $3, $2, $4, 'completed') RETURNING id""",
        user.pk,
        name,
        len(content),
        content,
    )


def requests_for(provider: RunningProvider, marker: str) -> list[dict[str, Any]]:
    """The requests whose last user message carries `marker` (one reply's)."""
    found = []
    for request in provider.state.requests:
        users = [m for m in request["messages"] if m["role"] == "user"]
        if users and marker in str(users[-1]["content"]):
            found.append(request)
    return found


async def ask(live: GraphQLClient, server: LiveServer, user: SignedUp, session: str, text: str) -> dict[str, Any]:
    async with transport_ws(server.ws_url, user.token) as socket:
        await socket.subscribe("events", EVENTS, {"id": session})
        await asyncio.sleep(0.3)
        await send(live, user, session, text)
        return final(await until_final(socket, "events"))


async def test_the_prompt_holds_the_users_own_context_and_documents_and_nobody_elses(
    live: GraphQLClient, assistant_gateway: LiveServer, live_pg: asyncpg.Connection, provider: RunningProvider
) -> None:
    owner, stranger = await live.register(), await live.register()
    await live_pg.execute(
        """UPDATE users SET preferences = $2::jsonb, business_name = 'Bloom Florists' WHERE id = $1""",
        owner.pk,
        json.dumps({"language": "French", "ai": {"personality": "friendly", "autoSuggestions": False}}),
    )
    mine = await add_document(
        live_pg, owner, "zanzibar-policy.txt", "Our Zanzibar shipping policy: orders ship within 3 days. OWNER-DOC-7Q"
    )
    await add_document(live_pg, stranger, "zanzibar-secret.txt", "Zanzibar shipping secrets. STRANGER-DOC-9X")
    theirs = await new_session(live, stranger)
    await ask(live, assistant_gateway, stranger, theirs, "Zanzibar shipping question STRANGER-MSG-4K")

    session = await new_session(
        live,
        owner,
        contextData={
            "businessContext": {"currentProject": "Project Falcon", "taskType": "logistics"},
            "aiContext": {"personality": "cheerful"},
        },
    )
    reply = await ask(live, assistant_gateway, owner, session, "What is our Zanzibar shipping policy? OWNER-Q-1")

    (request,) = requests_for(provider, "OWNER-Q-1")
    prompt = json.dumps(request)
    for expected in ("Project Falcon", "cheerful", "French", "Bloom Florists", "OWNER-DOC-7Q", "zanzibar-policy.txt"):
        assert expected in prompt, expected
    for foreign in ("STRANGER-DOC-9X", "STRANGER-MSG-4K", "zanzibar-secret.txt"):
        assert foreign not in prompt, foreign
    (attachment,) = reply["metadata"]["attachments"]
    assert attachment["name"] == "zanzibar-policy.txt" and attachment["document"] is not None
    assert reply["metadata"]["suggestions"] == []  # the owner turned suggestions off
    assert mine


async def test_history_is_cut_to_the_token_budget_newest_kept(
    live: GraphQLClient, assistant_gateway: LiveServer, provider: RunningProvider
) -> None:
    user = await live.register()
    session = await new_session(live, user)
    filler = "word " * 1600  # ~2000 tokens by the gateway's estimate; the budget is 3000
    await ask(live, assistant_gateway, user, session, f"OLDEST-H1 {filler}")
    await ask(live, assistant_gateway, user, session, f"MIDDLE-H2 {filler}")
    await ask(live, assistant_gateway, user, session, "NEWEST-H3 short")
    (request,) = requests_for(provider, "NEWEST-H3")
    said = [message["content"] for message in request["messages"] if message["role"] == "user"]
    assert any("MIDDLE-H2" in text for text in said) and "NEWEST-H3" in said[-1]
    # The oldest user message no longer fits (the short replies in between still do).
    assert not any("OLDEST-H1" in text for text in said)
    roles = [message["role"] for message in request["messages"]]
    assert roles[0] == "system" and roles[-1] == "user"
