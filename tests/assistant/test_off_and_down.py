"""Without a provider nothing answers and nothing is faked; with a provider that is down, the worker's job
ends the reply in a SYSTEM message (the job run here, in-process, on the run's database)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from tests.assistant.flows import ASSISTANT, REGENERATE, new_session, send, session_state
from tests.assistant.provider_peer import free_port
from tests.graphql_client import GraphQLClient


async def test_without_a_provider_the_assistant_is_off_and_nothing_answers(
    client: GraphQLClient, pg: asyncpg.Connection
) -> None:
    assert (await client.data(ASSISTANT))["assistant"] == {"enabled": False, "model": None}
    user = await client.register()
    session = await new_session(client, user)
    sent = await send(client, user, session, "is anyone there?")
    assert await pg.fetchval("SELECT count(*) FROM assistant_replies WHERE user_id = $1", user.pk) == 0
    payload = (await client.data(REGENERATE, {"input": {"messageId": sent["id"]}}, token=user.token))["regenerateReply"]
    assert [error["code"] for error in payload["errors"]] == ["INVALID_STATE"]


@pytest.fixture
async def down(settings: Any, database_url: str, redis_url: str) -> AsyncIterator[Any]:
    """Resources (and an app) of a gateway whose provider does not listen."""
    from graph.app import create_app
    from jobs.context import WorkerDeps
    from services.resources import close_resources, open_resources

    configured = settings.model_copy(
        update={
            "assistant_url": f"http://127.0.0.1:{free_port()}/v1",
            "assistant_model": "nobody",
            "assistant_allow_private": True,
        }
    )
    resources = await open_resources(configured, database_url=database_url, redis_url=redis_url)
    try:
        yield WorkerDeps.of(resources), create_app(resources)
    finally:
        await close_resources(resources)


async def test_a_provider_that_is_down_ends_in_a_system_message(down: Any) -> None:
    from jobs.assistant import answer_session
    from tests.chat.flows import pk

    deps, app = down
    async with GraphQLClient.over_asgi(app) as client:
        user = await client.register()
        session = await new_session(client, user)
        sent = await send(client, user, session, "hello?")
        await answer_session({"deps": deps}, session_id=str(pk(session)))
        messages = [edge["node"] for edge in (await session_state(client, user, session))["messages"]["edges"]]
    assert [message["role"] for message in messages] == ["USER", "SYSTEM"]
    assert messages[1]["metadata"]["error"]["code"] == "PROVIDER_UNAVAILABLE"
    assert messages[1]["metadata"]["replyTo"] == sent["id"]
