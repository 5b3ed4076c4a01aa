"""The readable-rows statements (loaders/visibility.py), as SQL: own rows, soft-deleted ones only when asked,
shared agents for signed-in viewers, nothing for anonymous ones. The behaviour (NOT_FOUND for another user's
or a deleted row) is tested through the API in each domain."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Select
from sqlalchemy.dialects import postgresql

from loaders import visibility
from models import ChatSession, Document, Integration, MCPAgent, Message, Task, User

pytestmark = pytest.mark.unit  # needs neither PostgreSQL nor Redis

VIEWER = uuid.UUID(int=42)


def where_of(statement: Select[object]) -> str:
    sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    return " ".join(sql.split("WHERE", 1)[1].split())


def test_owned_tables_read_the_viewers_live_rows() -> None:
    owner = f"'{VIEWER}'"
    assert where_of(visibility.visible_users(VIEWER, User)) == f"users.id = {owner} AND users.deleted_at IS NULL"
    assert where_of(visibility.visible_chat_sessions(VIEWER, ChatSession)) == (
        f"chat_sessions.user_id = {owner} AND chat_sessions.deleted_at IS NULL"
    )
    assert where_of(visibility.visible_documents(VIEWER, Document)) == (
        f"documents.user_id = {owner} AND documents.deleted_at IS NULL"
    )
    assert where_of(visibility.visible_integrations(VIEWER, Integration)) == (
        f"integrations.user_id = {owner} AND integrations.deleted_at IS NULL"
    )
    assert where_of(visibility.visible_tasks(VIEWER, Task)) == f"tasks.user_id = {owner}"


def test_deleted_rows_are_read_only_when_asked_for() -> None:
    assert "chat_sessions.deleted_at IS NOT NULL" in where_of(
        visibility.visible_chat_sessions(VIEWER, ChatSession, deleted=True)
    )
    assert "documents.deleted_at IS NOT NULL" in where_of(visibility.visible_documents(VIEWER, Document, deleted=True))


def test_messages_are_read_through_their_live_session() -> None:
    statement = visibility.visible_messages(VIEWER, Message, ChatSession)
    sql = str(statement.compile(dialect=postgresql.dialect()))
    assert "FROM messages JOIN chat_sessions ON chat_sessions.id = messages.session_id" in sql
    assert where_of(statement) == (
        f"chat_sessions.user_id = '{VIEWER}' AND chat_sessions.deleted_at IS NULL AND messages.deleted_at IS NULL"
    )


def test_agents_are_shared_by_signed_in_viewers() -> None:
    assert where_of(visibility.visible_agents(VIEWER, MCPAgent)) == "mcp_agents.deleted_at IS NULL"
    assert where_of(visibility.live_agents(MCPAgent)) == "mcp_agents.deleted_at IS NULL"


@pytest.mark.parametrize(
    ("rows", "entity"),
    [
        (visibility.visible_users, User),
        (visibility.visible_chat_sessions, ChatSession),
        (visibility.visible_messages, Message),
        (visibility.visible_documents, Document),
        (visibility.visible_integrations, Integration),
        (visibility.visible_tasks, Task),
        (visibility.visible_agents, MCPAgent),
    ],
)
def test_an_anonymous_viewer_reads_nothing(rows: object, entity: type) -> None:
    assert where_of(rows(None, entity)) == "false"  # type: ignore[operator]
