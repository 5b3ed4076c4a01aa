"""Messages: sendMessage (content 1..10,000 characters, attachments of the sender's own documents),
editMessage (own user messages; sets editedAt) and deleteMessage (soft), as a user sees them; every rule
broken once with nothing written; other users' messages answered exactly like missing ones."""

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
    DELETE_MESSAGE,
    DELETE_SESSION,
    EDIT_MESSAGE,
    SEND_MESSAGE,
    create_session,
    message_rows,
    mutate,
    ok,
    pk,
    problems,
    read_session,
    send,
    session_row,
    unauthenticated,
)
from tests.factories import gid
from tests.graphql_client import GraphQLClient, SignedUp

CONTENT_MAX = 10_000
NODE = "query($id: ID!) { node(id: $id) { id ... on Message { content editedAt } } }"


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def unchanged(pg: asyncpg.Connection, session_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The session row and its message rows: compared before and after a refusal."""
    return await session_row(pg, session_id), await message_rows(pg, session_id)


# --- sendMessage -----------------------------------------------------------------------------------------


async def test_send_message(client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp) -> None:
    chat = await create_session(client, user, title="Invoices")
    sent = await send(client, user, chat["id"], "Can you chase the Acme invoice?")
    assert sent["role"] == "USER"
    assert sent["content"] == "Can you chase the Acme invoice?"
    assert sent["seq"] == 1
    assert sent["editedAt"] is None
    assert sent["session"] == {"id": chat["id"]}
    assert sent["metadata"]["attachments"] == []

    read = await read_session(client, user, chat["id"])
    assert read["messageCount"] == 1
    assert when(read["lastActivityAt"]) > when(chat["lastActivityAt"])
    assert read["messages"]["totalCount"] == 1
    assert [edge["node"] for edge in read["messages"]["edges"]] == [sent]

    second = await send(client, user, chat["id"], "And the Globex one.")
    assert second["seq"] == 2
    again = await read_session(client, user, chat["id"])
    assert again["messageCount"] == 2
    assert when(again["lastActivityAt"]) > when(read["lastActivityAt"])
    assert [edge["node"]["content"] for edge in again["messages"]["edges"]] == [
        "Can you chase the Acme invoice?",
        "And the Globex one.",
    ]

    rows = await message_rows(pg, chat["id"])
    assert [(row["seq"], row["role"], row["content"]) for row in rows] == [
        (1, "user", "Can you chase the Acme invoice?"),
        (2, "user", "And the Globex one."),
    ]
    assert (await session_row(pg, chat["id"]))["message_count"] == 2


async def test_a_session_with_new_messages_moves_to_the_top(client: GraphQLClient, user: SignedUp) -> None:
    older = await create_session(client, user, title="Older")
    newer = await create_session(client, user, title="Newer")
    listing = "{ viewer { chatSessions { nodes { id } } } }"
    assert [n["id"] for n in (await client.data(listing, token=user.token))["viewer"]["chatSessions"]["nodes"]] == [
        newer["id"],
        older["id"],
    ]
    await send(client, user, older["id"])
    assert [n["id"] for n in (await client.data(listing, token=user.token))["viewer"]["chatSessions"]["nodes"]] == [
        older["id"],
        newer["id"],
    ]


async def test_content_of_exactly_10000_characters_is_accepted(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    chat = await create_session(client, user)
    text = "é" * CONTENT_MAX  # characters, not bytes
    sent = await send(client, user, chat["id"], text)
    assert sent["content"] == text
    assert [len(row["content"]) for row in await message_rows(pg, chat["id"])] == [CONTENT_MAX]


@pytest.mark.parametrize(
    "content,code",
    [
        ("", "REQUIRED"),
        ("   \n\t  ", "REQUIRED"),
        ("x" * (CONTENT_MAX + 1), "TOO_LONG"),
    ],
    ids=["empty", "whitespace", "too-long"],
)
async def test_bad_content_is_refused_and_nothing_written(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp, content: str, code: str
) -> None:
    chat = await create_session(client, user)
    before = await unchanged(pg, chat["id"])
    payload = await mutate(client, SEND_MESSAGE, user, sessionId=chat["id"], content=content)
    assert problems(payload) == [("input.content", code)]
    assert await unchanged(pg, chat["id"]) == before
    read = await read_session(client, user, chat["id"])
    assert read["messageCount"] == 0 and read["messages"]["totalCount"] == 0
    assert read["lastActivityAt"] == chat["lastActivityAt"]


async def test_send_to_an_archived_session_is_refused(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    chat = await create_session(client, user)
    await send(client, user, chat["id"], "before archiving")
    ok(await mutate(client, ARCHIVE_SESSION, user, sessionId=chat["id"]))
    before = await unchanged(pg, chat["id"])
    payload = await mutate(client, SEND_MESSAGE, user, sessionId=chat["id"], content="after archiving")
    assert problems(payload) == [("input.sessionId", "INVALID_STATE")]
    assert await unchanged(pg, chat["id"]) == before


async def test_send_to_a_deleted_session_is_not_found(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    chat = await create_session(client, user)
    ok(await mutate(client, DELETE_SESSION, user, sessionId=chat["id"]))
    before = await unchanged(pg, chat["id"])
    payload = await mutate(client, SEND_MESSAGE, user, sessionId=chat["id"], content="hello?")
    assert problems(payload) == [("input.sessionId", "NOT_FOUND")]
    assert await unchanged(pg, chat["id"]) == before


async def test_send_to_someone_elses_session_is_answered_like_a_missing_one(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    other = await client.register()
    theirs = await create_session(client, other, title="Theirs")
    before = await unchanged(pg, theirs["id"])

    def answer(payload: dict[str, Any]) -> list[tuple[Any, ...]]:
        assert payload["message"] is None
        return [(e["field"], e["code"], e["message"]) for e in payload["errors"]]

    missing = answer(await mutate(client, SEND_MESSAGE, user, sessionId=gid("ChatSession", uuid.uuid4()), content="hi"))
    assert [(f, c) for f, c, _ in missing] == [("input.sessionId", "NOT_FOUND")]
    assert answer(await mutate(client, SEND_MESSAGE, user, sessionId=theirs["id"], content="hi")) == missing
    assert answer(await mutate(client, SEND_MESSAGE, user, sessionId="garbage", content="hi")) == missing
    assert await unchanged(pg, theirs["id"]) == before


async def test_every_violation_of_a_send_is_reported_together(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    other = await client.register()
    theirs = await create_session(client, other)
    before = await unchanged(pg, theirs["id"])
    payload = await mutate(
        client,
        SEND_MESSAGE,
        user,
        sessionId=theirs["id"],
        content="   ",
        attachments=[gid("Document", uuid.uuid4()), "garbage"],
    )
    assert problems(payload) == [
        ("input.attachments.0", "NOT_FOUND"),
        ("input.attachments.1", "NOT_FOUND"),
        ("input.content", "REQUIRED"),
        ("input.sessionId", "NOT_FOUND"),
    ]
    assert await unchanged(pg, theirs["id"]) == before


async def test_content_and_state_are_reported_together(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    chat = await create_session(client, user)
    ok(await mutate(client, ARCHIVE_SESSION, user, sessionId=chat["id"]))
    before = await unchanged(pg, chat["id"])
    payload = await mutate(client, SEND_MESSAGE, user, sessionId=chat["id"], content="")
    assert problems(payload) == [("input.content", "REQUIRED"), ("input.sessionId", "INVALID_STATE")]
    assert await unchanged(pg, chat["id"]) == before


async def test_content_postgresql_cannot_store_is_a_payload_error(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    chat = await create_session(client, user)
    before = await unchanged(pg, chat["id"])
    payload = await mutate(client, SEND_MESSAGE, user, sessionId=chat["id"], content="nul \x00 byte")
    assert problems(payload) == [("input.content", "INVALID")]
    assert await unchanged(pg, chat["id"]) == before


# --- attachments -----------------------------------------------------------------------------------------


async def test_attachments_show_in_metadata_and_resolve_to_the_document(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    chat = await create_session(client, user)
    invoice = await factories.document(pg, user.pk, name="invoice-0042.pdf")
    receipt = await factories.document(pg, user.pk, name="receipt.pdf")
    sent = await send(
        client, user, chat["id"], "See attached", attachments=[gid("Document", invoice), gid("Document", receipt)]
    )
    attachments = sent["metadata"]["attachments"]
    assert [(a["name"], a["type"], a["size"]) for a in attachments] == [
        ("invoice-0042.pdf", "application/pdf", 1024),
        ("receipt.pdf", "application/pdf", 1024),
    ]
    assert [a["document"] for a in attachments] == [
        {"id": gid("Document", invoice), "originalFilename": "invoice-0042.pdf"},
        {"id": gid("Document", receipt), "originalFilename": "receipt.pdf"},
    ]
    assert all(a["url"] for a in attachments)

    # Read back through the session, as a client would after a reload.
    read = await read_session(client, user, chat["id"])
    assert read["messages"]["edges"][0]["node"]["metadata"]["attachments"] == attachments
    stored = json.loads((await message_rows(pg, chat["id"]))[0]["metadata"])
    assert [(a["name"], a["type"], a["size"]) for a in stored["attachments"]] == [
        ("invoice-0042.pdf", "application/pdf", 1024),
        ("receipt.pdf", "application/pdf", 1024),
    ]


async def test_ten_attachments_are_accepted(client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp) -> None:
    chat = await create_session(client, user)
    documents = [await factories.document(pg, user.pk, name=f"doc-{n}.pdf") for n in range(10)]
    sent = await send(client, user, chat["id"], "All of them", attachments=[gid("Document", d) for d in documents])
    assert [a["name"] for a in sent["metadata"]["attachments"]] == [f"doc-{n}.pdf" for n in range(10)]


async def test_more_than_ten_attachments_are_refused(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    chat = await create_session(client, user)
    documents = [await factories.document(pg, user.pk, name=f"doc-{n}.pdf") for n in range(11)]
    before = await unchanged(pg, chat["id"])
    payload = await mutate(
        client,
        SEND_MESSAGE,
        user,
        sessionId=chat["id"],
        content="Too many",
        attachments=[gid("Document", d) for d in documents],
    )
    assert problems(payload) == [("input.attachments", "TOO_MANY")]
    assert "10" in payload["errors"][0]["message"]
    assert await unchanged(pg, chat["id"]) == before


@pytest.mark.parametrize("kind", ["someone-elses", "deleted", "missing", "other-type", "malformed", "not-base64"])
async def test_bad_attachment_is_refused_and_nothing_written(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp, kind: str
) -> None:
    chat = await create_session(client, user)
    mine = await factories.document(pg, user.pk, name="mine.pdf")
    if kind == "someone-elses":
        other = await client.register()
        bad = gid("Document", await factories.document(pg, other.pk, name="theirs.pdf"))
    elif kind == "deleted":
        bad = gid("Document", await factories.document(pg, user.pk, name="gone.pdf", deleted=True))
    elif kind == "missing":
        bad = gid("Document", uuid.uuid4())
    elif kind == "other-type":
        bad = chat["id"]  # a real ID of the user's, but not a Document
    elif kind == "malformed":
        bad = gid("Document", uuid.uuid4())[:-6]
    else:
        bad = "!!! not an id !!!"
    before = await unchanged(pg, chat["id"])
    payload = await mutate(
        client,
        SEND_MESSAGE,
        user,
        sessionId=chat["id"],
        content="See attached",
        attachments=[gid("Document", mine), bad],
    )
    assert problems(payload) == [("input.attachments.1", "NOT_FOUND")]
    assert await unchanged(pg, chat["id"]) == before


async def test_someone_elses_document_is_answered_like_a_missing_one(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    chat = await create_session(client, user)
    other = await client.register()
    theirs = await factories.document(pg, other.pk)
    answers = []
    for document_id in (gid("Document", theirs), gid("Document", uuid.uuid4())):
        payload = await mutate(client, SEND_MESSAGE, user, sessionId=chat["id"], content="x", attachments=[document_id])
        answers.append(payload["errors"])
    assert answers[0] == answers[1]


# --- editMessage -----------------------------------------------------------------------------------------


async def test_edit_message(client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp) -> None:
    chat = await create_session(client, user)
    first = await send(client, user, chat["id"], "Pay the Acme invoice")
    second = await send(client, user, chat["id"], "Thanks")
    edited = ok(await mutate(client, EDIT_MESSAGE, user, messageId=first["id"], content="Pay the Globex invoice"))[
        "message"
    ]
    assert edited["id"] == first["id"]
    assert edited["content"] == "Pay the Globex invoice"
    assert edited["seq"] == 1
    assert edited["editedAt"] is not None
    assert when(edited["editedAt"]) > when(first["timestamp"])
    assert edited["timestamp"] == first["timestamp"]

    read = await read_session(client, user, chat["id"])
    nodes = [edge["node"] for edge in read["messages"]["edges"]]
    assert [(n["content"], n["seq"], n["editedAt"] is not None) for n in nodes] == [
        ("Pay the Globex invoice", 1, True),
        ("Thanks", 2, False),
    ]
    assert nodes[1] == second
    assert read["messageCount"] == 2
    row = (await message_rows(pg, chat["id"]))[0]
    assert row["content"] == "Pay the Globex invoice" and row["edited_at"] is not None


@pytest.mark.parametrize(
    "content,code",
    [
        ("", "REQUIRED"),
        ("  \n ", "REQUIRED"),
        ("x" * (CONTENT_MAX + 1), "TOO_LONG"),
    ],
    ids=["empty", "whitespace", "too-long"],
)
async def test_edit_with_bad_content_changes_nothing(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp, content: str, code: str
) -> None:
    chat = await create_session(client, user)
    sent = await send(client, user, chat["id"], "original")
    before = await unchanged(pg, chat["id"])
    payload = await mutate(client, EDIT_MESSAGE, user, messageId=sent["id"], content=content)
    assert problems(payload) == [("input.content", code)]
    assert await unchanged(pg, chat["id"]) == before


async def test_edit_to_exactly_10000_characters_is_accepted(client: GraphQLClient, user: SignedUp) -> None:
    chat = await create_session(client, user)
    sent = await send(client, user, chat["id"], "short")
    edited = ok(await mutate(client, EDIT_MESSAGE, user, messageId=sent["id"], content="y" * CONTENT_MAX))
    assert edited["message"]["content"] == "y" * CONTENT_MAX


@pytest.mark.parametrize("role", ["assistant", "system"])
async def test_only_user_messages_can_be_edited(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp, role: str
) -> None:
    chat = await create_session(client, user)
    await send(client, user, chat["id"], "What is due?")
    reply = await factories.message(pg, pk(chat["id"]), role=role, content="The BAS is due Friday.")
    before = await unchanged(pg, chat["id"])
    payload = await mutate(client, EDIT_MESSAGE, user, messageId=gid("Message", reply), content="Nothing.")
    assert problems(payload) == [("input.messageId", "FORBIDDEN")]
    assert await unchanged(pg, chat["id"]) == before


async def test_edit_in_an_archived_session_is_refused(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    chat = await create_session(client, user)
    sent = await send(client, user, chat["id"], "original")
    ok(await mutate(client, ARCHIVE_SESSION, user, sessionId=chat["id"]))
    before = await unchanged(pg, chat["id"])
    assert problems(await mutate(client, EDIT_MESSAGE, user, messageId=sent["id"], content="new")) == [
        ("input.messageId", "INVALID_STATE")
    ]
    assert problems(await mutate(client, DELETE_MESSAGE, user, messageId=sent["id"])) == [
        ("input.messageId", "INVALID_STATE")
    ]
    assert await unchanged(pg, chat["id"]) == before


async def test_edit_reports_content_and_missing_message_together(client: GraphQLClient, user: SignedUp) -> None:
    payload = await mutate(client, EDIT_MESSAGE, user, messageId=gid("Message", uuid.uuid4()), content="")
    assert problems(payload) == [("input.content", "REQUIRED"), ("input.messageId", "NOT_FOUND")]


# --- deleteMessage ---------------------------------------------------------------------------------------


async def test_delete_message_hides_it(client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp) -> None:
    chat = await create_session(client, user)
    first = await send(client, user, chat["id"], "keep")
    second = await send(client, user, chat["id"], "oops, wrong chat")
    deleted = ok(await mutate(client, DELETE_MESSAGE, user, messageId=second["id"]))["message"]
    assert deleted["id"] == second["id"]

    read = await read_session(client, user, chat["id"])
    assert [edge["node"]["id"] for edge in read["messages"]["edges"]] == [first["id"]]
    assert read["messages"]["totalCount"] == 1
    assert (await client.data(NODE, {"id": second["id"]}, token=user.token))["node"] is None
    rows = await message_rows(pg, chat["id"])
    assert [(row["seq"], row["deleted_at"] is not None) for row in rows] == [(1, False), (2, True)]

    # Gone for every later action.
    assert problems(await mutate(client, DELETE_MESSAGE, user, messageId=second["id"])) == [
        ("input.messageId", "NOT_FOUND")
    ]
    assert problems(await mutate(client, EDIT_MESSAGE, user, messageId=second["id"], content="back")) == [
        ("input.messageId", "NOT_FOUND")
    ]
    assert (await message_rows(pg, chat["id"]))[1]["content"] == "oops, wrong chat"


async def test_messages_of_a_deleted_session_cannot_change(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp
) -> None:
    chat = await create_session(client, user)
    sent = await send(client, user, chat["id"], "original")
    ok(await mutate(client, DELETE_SESSION, user, sessionId=chat["id"]))
    before = await unchanged(pg, chat["id"])
    assert problems(await mutate(client, EDIT_MESSAGE, user, messageId=sent["id"], content="new")) == [
        ("input.messageId", "NOT_FOUND")
    ]
    assert problems(await mutate(client, DELETE_MESSAGE, user, messageId=sent["id"])) == [
        ("input.messageId", "NOT_FOUND")
    ]
    assert await unchanged(pg, chat["id"]) == before


# --- other users' messages, anonymous callers ------------------------------------------------------------


@pytest.mark.parametrize(
    "document,extra", [(EDIT_MESSAGE, {"content": "mine now"}), (DELETE_MESSAGE, {})], ids=["edit", "delete"]
)
async def test_someone_elses_message_is_answered_like_a_missing_one(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp, document: str, extra: dict[str, Any]
) -> None:
    other = await client.register()
    theirs = await create_session(client, other, title="Theirs")
    their_message = await send(client, other, theirs["id"], "private")
    their_reply = gid("Message", await factories.message(pg, pk(theirs["id"]), role="assistant", content="ok"))
    mine = await create_session(client, user)
    await send(client, user, mine["id"], "my own")
    before = await unchanged(pg, theirs["id"])

    def answer(payload: dict[str, Any]) -> list[tuple[Any, ...]]:
        assert payload["message"] is None
        return [(e["field"], e["code"], e["message"]) for e in payload["errors"]]

    missing = answer(await mutate(client, document, user, messageId=gid("Message", uuid.uuid4()), **extra))
    assert [(f, c) for f, c, _ in missing] == [("input.messageId", "NOT_FOUND")]
    for message_id in (their_message["id"], their_reply, theirs["id"], "garbage"):
        assert answer(await mutate(client, document, user, messageId=message_id, **extra)) == missing
    assert await unchanged(pg, theirs["id"]) == before


@pytest.mark.parametrize("document", [SEND_MESSAGE, EDIT_MESSAGE, DELETE_MESSAGE], ids=["send", "edit", "delete"])
async def test_anonymous_callers_are_unauthenticated(
    client: GraphQLClient, pg: asyncpg.Connection, user: SignedUp, document: str
) -> None:
    chat = await create_session(client, user)
    sent = await send(client, user, chat["id"], "original")
    fields: dict[str, Any] = (
        {"sessionId": chat["id"], "content": "hi"}
        if document == SEND_MESSAGE
        else {"messageId": sent["id"], "content": "changed"}
        if document == EDIT_MESSAGE
        else {"messageId": sent["id"]}
    )
    before = await unchanged(pg, chat["id"])
    body = await client.execute(document, {"input": fields})
    assert unauthenticated(body), body
    assert body["data"] is None
    assert await unchanged(pg, chat["id"]) == before
    ok(await mutate(client, document, user, **fields))
