"""The data model's validation rules that PostgreSQL itself enforces: uniqueness, references, what a
delete takes with it, and the length limits of the column types.

Every test makes its own users and agents with unique emails and names, and deletes them afterwards;
everything else it inserts hangs off those and goes with them by cascade.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest


def unique_email(length: int | None = None) -> str:
    """A fresh address; padded to exactly `length` characters when asked."""
    local = uuid.uuid4().hex
    if length is None:
        return f"{local}@example.test"
    domain_length = length - len(local) - len("@") - len(".test")
    assert domain_length > 0
    return f"{local}@{'e' * domain_length}.test"


class Rows:
    """Inserts minimal valid rows and remembers the owners whose deletion removes the rest."""

    def __init__(self, pg: asyncpg.Connection) -> None:
        self.pg = pg
        self.user_ids: list[uuid.UUID] = []
        self.agent_ids: list[uuid.UUID] = []

    async def user(self, email: str | None = None) -> uuid.UUID:
        user_id: uuid.UUID = await self.pg.fetchval(
            "INSERT INTO users (email, password_hash, first_name, last_name) "
            "VALUES ($1, 'not-a-real-hash', 'Test', 'User') RETURNING id",
            email if email is not None else unique_email(),
        )
        self.user_ids.append(user_id)
        return user_id

    async def agent(self, name: str | None = None) -> uuid.UUID:
        agent_id: uuid.UUID = await self.pg.fetchval(
            "INSERT INTO mcp_agents (name, endpoint) VALUES ($1, 'http://agent.test/mcp') RETURNING id",
            name if name is not None else f"agent-{uuid.uuid4().hex}",
        )
        self.agent_ids.append(agent_id)
        return agent_id

    async def session(self, user_id: uuid.UUID, title: str | None = None) -> uuid.UUID:
        session_id: uuid.UUID = await self.pg.fetchval(
            "INSERT INTO chat_sessions (user_id, title) VALUES ($1, $2) RETURNING id", user_id, title
        )
        return session_id

    async def message(self, session_id: uuid.UUID) -> uuid.UUID:
        message_id: uuid.UUID = await self.pg.fetchval(
            "INSERT INTO messages (session_id, role, content, seq) VALUES ($1, 'user', 'hello', "
            "(SELECT coalesce(max(seq), 0) + 1 FROM messages WHERE session_id = $1)) RETURNING id",
            session_id,
        )
        return message_id

    async def document(self, user_id: uuid.UUID) -> uuid.UUID:
        document_id: uuid.UUID = await self.pg.fetchval(
            "INSERT INTO documents (user_id, filename, original_filename, mime_type, file_size, file_path) "
            "VALUES ($1, 'notes.txt', 'notes.txt', 'text/plain', 5, '/documents/notes.txt') RETURNING id",
            user_id,
        )
        return document_id

    async def integration(self, user_id: uuid.UUID, provider: str = "gmail") -> uuid.UUID:
        integration_id: uuid.UUID = await self.pg.fetchval(
            "INSERT INTO integrations (user_id, provider, encrypted_tokens) VALUES ($1, $2, 'ciphertext') RETURNING id",
            user_id,
            provider,
        )
        return integration_id

    async def task(self, user_id: uuid.UUID, agent_id: uuid.UUID, session_id: uuid.UUID | None = None) -> uuid.UUID:
        task_id: uuid.UUID = await self.pg.fetchval(
            "INSERT INTO tasks (user_id, session_id, agent_id, task_type, input_payload) "
            "VALUES ($1, $2, $3, 'summarise', '{}') RETURNING id",
            user_id,
            session_id,
            agent_id,
        )
        return task_id

    async def exists(self, table: str, row_id: uuid.UUID) -> bool:
        # `table` is always one of this module's literals, never outside input.
        found: bool = await self.pg.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table} WHERE id = $1)", row_id)
        return found

    async def clean_up(self) -> None:
        await self.pg.execute("DELETE FROM users WHERE id = ANY($1::uuid[])", self.user_ids)
        await self.pg.execute("DELETE FROM mcp_agents WHERE id = ANY($1::uuid[])", self.agent_ids)


@pytest.fixture
async def rows(pg: asyncpg.Connection) -> AsyncIterator[Rows]:
    made = Rows(pg)
    try:
        yield made
    finally:
        await made.clean_up()


# -- uniqueness --------------------------------------------------------------------------------------


async def test_duplicate_email_is_refused(rows: Rows) -> None:
    email = unique_email()
    await rows.user(email)
    with pytest.raises(asyncpg.UniqueViolationError) as refused:
        await rows.user(email)
    assert refused.value.constraint_name == "users_email_key"


async def test_duplicate_provider_for_one_user_is_refused(rows: Rows) -> None:
    user_id = await rows.user()
    await rows.integration(user_id, "gmail")
    await rows.integration(user_id, "slack")
    with pytest.raises(asyncpg.UniqueViolationError) as refused:
        await rows.integration(user_id, "gmail")
    assert refused.value.constraint_name == "integrations_user_id_provider_key"


async def test_same_provider_for_another_user_is_accepted(rows: Rows) -> None:
    first, second = await rows.user(), await rows.user()
    await rows.integration(first, "gmail")
    await rows.integration(second, "gmail")


async def test_duplicate_agent_name_is_refused(rows: Rows) -> None:
    name = f"agent-{uuid.uuid4().hex}"
    await rows.agent(name)
    with pytest.raises(asyncpg.UniqueViolationError) as refused:
        await rows.agent(name)
    assert refused.value.constraint_name == "mcp_agents_name_live_key"


async def test_a_deleted_agents_name_is_free_again(rows: Rows, pg: asyncpg.Connection) -> None:
    name = f"agent-{uuid.uuid4().hex}"
    first = await rows.agent(name)
    await pg.execute("UPDATE mcp_agents SET deleted_at = now() WHERE id = $1", first)
    await rows.agent(name)  # UNIQUE holds for live agents only
    with pytest.raises(asyncpg.UniqueViolationError):
        await pg.execute("UPDATE mcp_agents SET deleted_at = NULL WHERE id = $1", first)


# -- references --------------------------------------------------------------------------------------


async def test_message_in_a_missing_session_is_refused(rows: Rows) -> None:
    with pytest.raises(asyncpg.ForeignKeyViolationError) as refused:
        await rows.message(uuid.uuid4())
    assert refused.value.constraint_name == "messages_session_id_fkey"


async def test_deleting_a_user_deletes_everything_they_own(rows: Rows) -> None:
    user_id = await rows.user()
    agent_id = await rows.agent()
    session_id = await rows.session(user_id)
    owned = {
        "chat_sessions": session_id,
        "messages": await rows.message(session_id),
        "documents": await rows.document(user_id),
        "integrations": await rows.integration(user_id),
        "tasks": await rows.task(user_id, agent_id, session_id),
    }

    await rows.pg.execute("DELETE FROM users WHERE id = $1", user_id)

    assert {table: await rows.exists(table, row_id) for table, row_id in owned.items()} == dict.fromkeys(owned, False)
    # Agents are shared across users, so a user's deletion must leave them alone.
    assert await rows.exists("mcp_agents", agent_id)


async def test_deleting_a_session_keeps_its_tasks_but_forgets_the_session(rows: Rows) -> None:
    user_id = await rows.user()
    session_id = await rows.session(user_id)
    message_id = await rows.message(session_id)
    task_id = await rows.task(user_id, await rows.agent(), session_id)

    await rows.pg.execute("DELETE FROM chat_sessions WHERE id = $1", session_id)

    assert await rows.pg.fetchval("SELECT session_id FROM tasks WHERE id = $1", task_id) is None
    assert await rows.exists("tasks", task_id)
    assert not await rows.exists("messages", message_id)


async def test_deleting_an_agent_deletes_its_tasks(rows: Rows) -> None:
    user_id = await rows.user()
    agent_id = await rows.agent()
    task_id = await rows.task(user_id, agent_id)

    await rows.pg.execute("DELETE FROM mcp_agents WHERE id = $1", agent_id)

    assert not await rows.exists("tasks", task_id)
    assert await rows.exists("users", user_id)


# -- lengths -----------------------------------------------------------------------------------------


async def test_email_up_to_255_characters_is_accepted_and_longer_refused(rows: Rows) -> None:
    await rows.user(unique_email(255))
    with pytest.raises(asyncpg.StringDataRightTruncationError):
        await rows.user(unique_email(256))


async def test_session_title_up_to_255_characters_is_accepted_and_longer_refused(rows: Rows) -> None:
    user_id = await rows.user()
    await rows.session(user_id, "t" * 255)
    with pytest.raises(asyncpg.StringDataRightTruncationError):
        await rows.session(user_id, "t" * 256)
