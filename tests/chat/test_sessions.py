"""Chat sessions: create, update, archive/unarchive, soft delete and restore (within 30 days), as a
user sees them in the graph; every rule broken once, with nothing written; other users' sessions are
answered exactly like missing ones."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg
import pytest

from tests import factories
from tests.chat.flows import (
    ARCHIVE_SESSION,
    CREATE_SESSION,
    DELETE_SESSION,
    RESTORE_SESSION,
    UNARCHIVE_SESSION,
    UPDATE_SESSION,
    create_session,
    listed,
    mutate,
    ok,
    pk,
    problems,
    read_session,
    send,
    session_count,
    session_row,
    unauthenticated,
)
from tests.factories import gid
from tests.graphql_client import GraphQLClient, SignedUp

FULL_CONTEXT = {
    "businessContext": {"currentProject": "EOFY", "clientInfo": {"name": "Acme", "abn": 123}, "taskType": "bas"},
    "aiContext": {
        "personality": "concise",
        "memory": [{"fact": "prefers email"}, 7],
        "preferences": {"tone": "formal"},
    },
    "integrationContext": {"activeConnections": ["gmail", "xero"], "recentTasks": [{"id": "t1"}]},
}


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


# --- createChatSession -----------------------------------------------------------------------------------


async def test_create_session_with_title_and_typed_context(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    created = await create_session(client, user, title="  Quarterly BAS  ", contextData=FULL_CONTEXT)
    assert created["title"] == "Quarterly BAS"
    assert created["status"] == "ACTIVE"
    assert created["messageCount"] == 0
    assert created["deletedAt"] is None
    assert created["contextData"] == FULL_CONTEXT

    row = await session_row(pg, created["id"])
    assert row["user_id"] == user.pk
    assert row["title"] == "Quarterly BAS"
    assert row["status"] == "active"
    assert json.loads(row["context_data"]) == FULL_CONTEXT

    # What the user sees afterwards: the node, and the session first in their list.
    read = await read_session(client, user, created["id"])
    assert read is not None and read["title"] == "Quarterly BAS" and read["contextData"] == FULL_CONTEXT
    assert read["messages"]["totalCount"] == 0
    assert await listed(client, user) == [created["id"]]


async def test_create_session_needs_nothing(client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp) -> None:
    created = await create_session(client, user)
    assert created["title"] is None
    assert created["contextData"] == {"businessContext": None, "aiContext": None, "integrationContext": None}
    assert json.loads((await session_row(pg, created["id"]))["context_data"]) == {}


async def test_partial_context_keeps_only_what_was_given(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    created = await create_session(client, user, contextData={"aiContext": {"personality": "friendly"}})
    assert created["contextData"]["aiContext"] == {"personality": "friendly", "memory": [], "preferences": None}
    assert json.loads((await session_row(pg, created["id"]))["context_data"]) == {
        "aiContext": {"personality": "friendly"}
    }


async def test_title_of_255_characters_is_accepted(client: GraphQLClient, user: SignedUp) -> None:
    created = await create_session(client, user, title="t" * 255)
    assert created["title"] == "t" * 255


async def test_title_over_255_characters_is_refused_and_nothing_written(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    payload = await mutate(client, CREATE_SESSION, user, title="t" * 256, contextData=FULL_CONTEXT)
    assert problems(payload) == [("input.title", "TOO_LONG")]
    assert "255" in payload["errors"][0]["message"]
    assert await session_count(pg, user) == 0


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"title": "nul \x00 title"}, "input.title"),
        (
            {"contextData": {"businessContext": {"clientInfo": {"note": "nul \x00"}}}},
            "input.contextData.businessContext.clientInfo",
        ),
        (
            {"contextData": {"integrationContext": {"recentTasks": [{"k\x00": 1}]}}},
            "input.contextData.integrationContext.recentTasks.0",
        ),
    ],
    ids=["title", "context-value", "context-key"],
)
async def test_text_postgresql_cannot_store_is_a_payload_error(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp, fields: dict[str, Any], field: str
) -> None:
    payload = await mutate(client, CREATE_SESSION, user, **fields)
    assert problems(payload) == [(field, "INVALID")]
    assert await session_count(pg, user) == 0

    created = await create_session(client, user, title="Clean")
    before = await session_row(pg, created["id"])
    payload = await mutate(client, UPDATE_SESSION, user, sessionId=created["id"], **fields)
    assert problems(payload) == [(field, "INVALID")]
    assert await session_row(pg, created["id"]) == before


@pytest.mark.parametrize(
    "context,named",
    [
        ({"businessContext": {"currentProject": "x", "budget": 5}}, "budget"),  # unknown nested field
        ({"mood": "happy"}, "mood"),  # unknown top-level field
        ({"aiContext": {"personality": 5}}, "personality"),  # a number for a string
        ({"integrationContext": {"activeConnections": [{"name": "gmail"}]}}, "activeConnections"),
        ("not an object", "ChatContextInput"),
    ],
    ids=["unknown-nested", "unknown-top", "wrong-scalar", "wrong-list-item", "not-an-object"],
)
async def test_context_of_the_wrong_shape_is_a_validation_error(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp, context: Any, named: str
) -> None:
    body = await client.execute(CREATE_SESSION, {"input": {"title": "T", "contextData": context}}, token=user.token)
    assert body.get("data") is None
    assert [named in error["message"] for error in body["errors"]] == [True], body["errors"]
    assert await session_count(pg, user) == 0


async def test_unknown_context_field_inline_is_a_validation_error(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    body = await client.execute(
        'mutation { createChatSession(input: {contextData: {aiContext: {mood: "x"}}}) { errors { code } } }',
        token=user.token,
    )
    assert body.get("data") is None
    assert "mood" in body["errors"][0]["message"]
    assert await session_count(pg, user) == 0


# --- updateChatSession -----------------------------------------------------------------------------------


async def test_update_changes_title_and_context(client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp) -> None:
    created = await create_session(client, user, title="Draft", contextData=FULL_CONTEXT)
    new_context = {"businessContext": {"currentProject": "Payroll"}}
    answer = ok(
        await mutate(
            client, UPDATE_SESSION, user, sessionId=created["id"], title="Payroll run", contextData=new_context
        )
    )["chatSession"]
    assert answer["id"] == created["id"]
    assert answer["title"] == "Payroll run"
    assert answer["contextData"]["businessContext"] == {
        "currentProject": "Payroll",
        "clientInfo": None,
        "taskType": None,
    }
    assert answer["contextData"]["aiContext"] is None  # replaced, not merged
    assert when(answer["updatedAt"]) > when(created["updatedAt"])
    row = await session_row(pg, created["id"])
    assert row["title"] == "Payroll run"
    assert json.loads(row["context_data"]) == new_context

    # Only what is given changes.
    kept = ok(await mutate(client, UPDATE_SESSION, user, sessionId=created["id"], title="Renamed"))["chatSession"]
    assert kept["contextData"] == answer["contextData"]
    # An empty title clears it.
    cleared = ok(await mutate(client, UPDATE_SESSION, user, sessionId=created["id"], title=""))["chatSession"]
    assert cleared["title"] is None
    assert (await session_row(pg, created["id"]))["title"] is None
    assert (await read_session(client, user, created["id"]))["title"] is None


async def test_update_with_a_title_over_255_changes_nothing(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    created = await create_session(client, user, title="Keep me", contextData=FULL_CONTEXT)
    before = await session_row(pg, created["id"])
    payload = await mutate(
        client,
        UPDATE_SESSION,
        user,
        sessionId=created["id"],
        title="x" * 256,
        contextData={"aiContext": {"personality": "chatty"}},
    )
    assert problems(payload) == [("input.title", "TOO_LONG")]
    assert await session_row(pg, created["id"]) == before


async def test_update_reports_every_violation_together(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    other = await client.register()
    theirs = await create_session(client, other, title="Theirs")
    before = await session_row(pg, theirs["id"])
    # The door refuses the title before the session is looked up (the same answer for any session);
    # once past it, the use case answers.
    payload = await mutate(client, UPDATE_SESSION, user, sessionId=theirs["id"], title="x" * 300)
    assert problems(payload) == [("input.title", "TOO_LONG")]
    payload = await mutate(client, UPDATE_SESSION, user, sessionId=theirs["id"], title="x" * 255)
    assert problems(payload) == [("input.sessionId", "NOT_FOUND")]
    assert await session_row(pg, theirs["id"]) == before


async def test_update_with_a_context_of_the_wrong_shape_changes_nothing(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    created = await create_session(client, user, title="Keep me", contextData=FULL_CONTEXT)
    before = await session_row(pg, created["id"])
    body = await client.execute(
        UPDATE_SESSION,
        {"input": {"sessionId": created["id"], "title": "New", "contextData": {"secret": True}}},
        token=user.token,
    )
    assert body.get("data") is None and body["errors"]
    assert await session_row(pg, created["id"]) == before


# --- archive / unarchive ---------------------------------------------------------------------------------


async def test_archive_and_unarchive(client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp) -> None:
    active = await create_session(client, user, title="Still going")
    created = await create_session(client, user, title="Done with it")
    archived = ok(await mutate(client, ARCHIVE_SESSION, user, sessionId=created["id"]))["chatSession"]
    assert archived["status"] == "ARCHIVED"
    assert when(archived["updatedAt"]) > when(created["updatedAt"])
    assert (await session_row(pg, created["id"]))["status"] == "archived"

    assert await listed(client, user, ["ARCHIVED"]) == [created["id"]]
    assert await listed(client, user, ["ACTIVE"]) == [active["id"]]
    assert (await read_session(client, user, created["id"]))["status"] == "ARCHIVED"

    again = await mutate(client, ARCHIVE_SESSION, user, sessionId=created["id"])
    assert problems(again) == [("input.sessionId", "INVALID_STATE")]

    restored = ok(await mutate(client, UNARCHIVE_SESSION, user, sessionId=created["id"]))["chatSession"]
    assert restored["status"] == "ACTIVE"
    assert (await session_row(pg, created["id"]))["status"] == "active"
    assert await listed(client, user, ["ARCHIVED"]) == []
    assert set(await listed(client, user, ["ACTIVE"])) == {active["id"], created["id"]}

    not_archived = await mutate(client, UNARCHIVE_SESSION, user, sessionId=created["id"])
    assert problems(not_archived) == [("input.sessionId", "INVALID_STATE")]
    assert (await session_row(pg, created["id"]))["status"] == "active"


# --- delete / restore ------------------------------------------------------------------------------------


async def test_delete_hides_the_session_and_restore_brings_it_back(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    kept = await create_session(client, user, title="Kept")
    created = await create_session(client, user, title="Oops")
    await send(client, user, created["id"], "first words")
    archived = await create_session(client, user, title="Archived")
    ok(await mutate(client, ARCHIVE_SESSION, user, sessionId=archived["id"]))

    deleted = ok(await mutate(client, DELETE_SESSION, user, sessionId=created["id"]))["chatSession"]
    assert deleted["status"] == "DELETED"
    assert deleted["deletedAt"] is not None
    row = await session_row(pg, created["id"])
    assert row["status"] == "deleted" and row["deleted_at"] is not None
    assert await pg.fetchval("SELECT count(*) FROM messages WHERE session_id = $1", row["id"]) == 1

    # Invisible unless asked for explicitly.
    assert set(await listed(client, user)) == {kept["id"], archived["id"]}
    assert await listed(client, user, ["ACTIVE"]) == [kept["id"]]
    assert await listed(client, user, ["ARCHIVED"]) == [archived["id"]]
    assert await listed(client, user, ["DELETED"]) == [created["id"]]
    assert await read_session(client, user, created["id"]) is None

    again = await mutate(client, DELETE_SESSION, user, sessionId=created["id"])
    assert problems(again) == [("input.sessionId", "NOT_FOUND")]

    restored = ok(await mutate(client, RESTORE_SESSION, user, sessionId=created["id"]))["chatSession"]
    assert restored["status"] == "ACTIVE"
    assert restored["deletedAt"] is None
    row = await session_row(pg, created["id"])
    assert row["status"] == "active" and row["deleted_at"] is None
    assert await listed(client, user, ["DELETED"]) == []
    assert set(await listed(client, user, ["ACTIVE"])) == {kept["id"], created["id"]}
    read = await read_session(client, user, created["id"])
    assert [edge["node"]["content"] for edge in read["messages"]["edges"]] == ["first words"]


async def test_an_archived_session_can_be_deleted_and_restored(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    created = await create_session(client, user, title="Old")
    ok(await mutate(client, ARCHIVE_SESSION, user, sessionId=created["id"]))
    ok(await mutate(client, DELETE_SESSION, user, sessionId=created["id"]))
    assert await listed(client, user, ["ARCHIVED"]) == []
    assert await listed(client, user, ["DELETED"]) == [created["id"]]
    # A deleted session cannot be archived or unarchived: it is not there.
    for document in (ARCHIVE_SESSION, UNARCHIVE_SESSION, UPDATE_SESSION):
        assert problems(await mutate(client, document, user, sessionId=created["id"])) == [
            ("input.sessionId", "NOT_FOUND")
        ]
    ok(await mutate(client, RESTORE_SESSION, user, sessionId=created["id"]))
    assert (await session_row(pg, created["id"]))["deleted_at"] is None


async def test_restoring_a_session_that_is_not_deleted_is_an_invalid_state(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    created = await create_session(client, user, title="Fine")
    archived = await create_session(client, user, title="Put away")
    ok(await mutate(client, ARCHIVE_SESSION, user, sessionId=archived["id"]))
    for chat in (created, archived):
        before = await session_row(pg, chat["id"])
        assert problems(await mutate(client, RESTORE_SESSION, user, sessionId=chat["id"])) == [
            ("input.sessionId", "INVALID_STATE")
        ]
        assert await session_row(pg, chat["id"]) == before
    # Another user's session is still answered as missing.
    stranger = await client.register()
    assert problems(await mutate(client, RESTORE_SESSION, stranger, sessionId=created["id"])) == [
        ("input.sessionId", "NOT_FOUND")
    ]


async def test_restore_within_30_days(client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp) -> None:
    created = await create_session(client, user, title="Recent")
    ok(await mutate(client, DELETE_SESSION, user, sessionId=created["id"]))
    await pg.execute(
        "UPDATE chat_sessions SET deleted_at = now() - interval '29 days' WHERE id = $1", pk(created["id"])
    )
    restored = ok(await mutate(client, RESTORE_SESSION, user, sessionId=created["id"]))["chatSession"]
    assert restored["status"] == "ACTIVE"
    assert (await session_row(pg, created["id"]))["deleted_at"] is None


async def test_restore_after_30_days_is_refused(client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp) -> None:
    created = await create_session(client, user, title="Too late")
    ok(await mutate(client, DELETE_SESSION, user, sessionId=created["id"]))
    await pg.execute(
        "UPDATE chat_sessions SET deleted_at = now() - interval '31 days' WHERE id = $1", pk(created["id"])
    )
    before = await session_row(pg, created["id"])
    payload = await mutate(client, RESTORE_SESSION, user, sessionId=created["id"])
    assert problems(payload) == [("input.sessionId", "INVALID_STATE")]
    assert "30 days" in payload["errors"][0]["message"]
    assert await session_row(pg, created["id"]) == before
    assert await listed(client, user, ["DELETED"]) == [created["id"]]
    assert await listed(client, user) == []


# --- other users' sessions, missing ones, anonymous callers ----------------------------------------------


SESSION_MUTATIONS = [UPDATE_SESSION, ARCHIVE_SESSION, UNARCHIVE_SESSION, DELETE_SESSION, RESTORE_SESSION]


@pytest.mark.parametrize("document", SESSION_MUTATIONS, ids=["update", "archive", "unarchive", "delete", "restore"])
async def test_someone_elses_session_is_answered_like_a_missing_one(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp, document: str
) -> None:
    other = await client.register()
    # Theirs in every state a mutation could act on: active, archived, deleted.
    active = await factories.session(pg, other.pk, title="Theirs")
    archived = await factories.session(pg, other.pk, title="Theirs archived", status="archived")
    deleted = await factories.session(pg, other.pk, title="Theirs deleted", status="deleted", deleted=True)
    mine = await create_session(client, user, title="Mine")
    before = {key: await session_row(pg, key) for key in (active, archived, deleted)}

    def answer(payload: dict[str, Any]) -> list[tuple[Any, ...]]:
        assert payload[next(key for key in payload if key != "errors")] is None
        return [(e["field"], e["code"], e["message"]) for e in payload["errors"]]

    missing = answer(await mutate(client, document, user, sessionId=gid("ChatSession", uuid.uuid4())))
    assert [(field, code) for field, code, _ in missing] == [("input.sessionId", "NOT_FOUND")]
    for other_id in (active, archived, deleted):
        assert answer(await mutate(client, document, user, sessionId=gid("ChatSession", other_id))) == missing
    # An ID of another type, or no ID at all, names nothing either.
    assert answer(await mutate(client, document, user, sessionId=gid("Document", pk(mine["id"])))) == missing
    assert answer(await mutate(client, document, user, sessionId="not-a-global-id")) == missing

    for key, row in before.items():
        assert await session_row(pg, key) == row


@pytest.mark.parametrize(
    "document,fields",
    [
        (CREATE_SESSION, {"title": "Hi"}),
        (UPDATE_SESSION, {"title": "Hi"}),
        (ARCHIVE_SESSION, {}),
        (UNARCHIVE_SESSION, {}),
        (DELETE_SESSION, {}),
        (RESTORE_SESSION, {}),
    ],
    ids=["create", "update", "archive", "unarchive", "delete", "restore"],
)
async def test_anonymous_callers_are_unauthenticated(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp, document: str, fields: dict[str, Any]
) -> None:
    target = await factories.session(pg, user.pk, title="Mine")
    if document == UNARCHIVE_SESSION:
        await pg.execute("UPDATE chat_sessions SET status = 'archived' WHERE id = $1", target)
    if document == RESTORE_SESSION:
        await pg.execute("UPDATE chat_sessions SET status = 'deleted', deleted_at = now() WHERE id = $1", target)
    if document != CREATE_SESSION:
        fields = {**fields, "sessionId": gid("ChatSession", target)}
    before = await session_row(pg, target)
    body = await client.execute(document, {"input": fields})
    assert unauthenticated(body), body
    assert body["data"] is None
    assert await session_count(pg, user) == 1
    assert await session_row(pg, target) == before
    # The same request signed in works: the refusal was about the caller only.
    ok(await mutate(client, document, user, **fields))
