"""What the assistant is told: the prompt of one reply, grounded in the user's own data and nobody else's.

Every read is keyed by the reply's own session and user (from its row, never from the model or the
message): the session's messages up to the one being answered, newest first within a token budget; the
session's context; the user's preferences; the user's documents that best match the message (full-text
search on the seed's GIN index), cited as the reply's attachments; and the tools of the active agents.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from loaders.visibility import documents, visible_documents
from models import AssistantReply, ChatSession, MCPAgent, Message, User
from models.agents import AgentStatus, HealthStatus
from models.chat import MessageRole
from resolvers.document_search import ENGLISH, content_vector

CHARS_PER_TOKEN = 4  # the estimate used for budgets when no tokenizer of the provider's model is at hand
MAX_DOCUMENTS = 3
DOCUMENT_EXCERPT_CHARS = 1200
MAX_TOOLS = 64
MAX_TOOL_DESCRIPTION = 1000
MAX_CONTEXT_CHARS = 2000
SEARCH_WORDS = 24
_FUNCTION_NAME = re.compile(r"[^a-zA-Z0-9_-]")
_WORD = re.compile(r"[^\W_]{3,40}", re.UNICODE)


def estimate_tokens(text: str) -> int:
    return max(1, len(text) // CHARS_PER_TOKEN)


@dataclass(frozen=True)
class Tool:
    """A function the model may call: an agent's MCP tool under the name the model sees."""

    function_name: str
    agent_id: uuid.UUID
    tool_name: str
    read_only: bool
    description: str
    input_schema: dict[str, Any]

    def definition(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.function_name,
                "description": self.description[:MAX_TOOL_DESCRIPTION],
                "parameters": self.input_schema or {"type": "object", "properties": {}},
            },
        }


@dataclass
class Grounding:
    reply_to: Message
    session: ChatSession
    user: User
    history: list[dict[str, Any]]
    documents: list[dict[str, Any]]  # attachments as stored on the reply
    excerpts: list[str]
    tools: list[Tool] = field(default_factory=list)

    @property
    def wants_suggestions(self) -> bool:
        ai = (self.user.preferences or {}).get("ai") or {}
        return ai.get("autoSuggestions", True) is not False

    def messages(self) -> list[dict[str, Any]]:
        return [{"role": "system", "content": self.instructions()}, *self.history]

    def instructions(self) -> str:
        user, context = self.user, self.session.context_data or {}
        preferences = user.preferences or {}
        ai_context = context.get("aiContext") or {}
        business = context.get("businessContext") or {}
        tone = ai_context.get("personality") or (preferences.get("ai") or {}).get("personality") or "professional"
        language = preferences.get("language") or (preferences.get("ai") or {}).get("language")
        lines = [
            "You are the administrative assistant of a small business, talking with its owner or staff.",
            f"Tone: {_plain(str(tone), 40)}.",
            f"Today is {datetime.now(UTC).date().isoformat()}; the user's time zone is {user.timezone}.",
        ]
        if language:
            lines.append(f"Answer in this language: {_plain(str(language), 40)}.")
        who = ", ".join(part for part in (user.business_name, user.business_type) if part)
        if who:
            lines.append(f"The business: {_plain(who, 300)}.")
        if business:
            lines.append(f"What this conversation is about: {_plain(json.dumps(business), MAX_CONTEXT_CHARS)}")
        if ai_context.get("preferences"):
            lines.append(f"Preferences for this conversation: {_plain(json.dumps(ai_context['preferences']), 500)}")
        if self.tools:
            lines.append(
                "Tools: read-only ones run at once; any other tool call is only proposed to the user, who "
                "confirms it before it runs. Say so when you propose one."
            )
        if self.excerpts:
            lines.append("Excerpts of the user's own documents that may help (cite them by name):")
            lines.extend(self.excerpts)
        return "\n".join(lines)


def _plain(value: str, limit: int) -> str:
    return value.replace("\x00", "")[:limit]


async def gather(db: AsyncSession, reply: AssistantReply, *, history_tokens: int) -> Grounding | None:
    """The grounding of `reply`; None when there is nothing to answer any more (the session was deleted,
    or the message was)."""
    session = await db.get(ChatSession, reply.session_id)
    message = await db.get(Message, reply.reply_to)
    user = await db.get(User, reply.user_id)
    if (
        session is None
        or session.deleted_at is not None
        or session.user_id != reply.user_id
        or message is None
        or message.deleted_at is not None
        or message.session_id != session.id
        or user is None
    ):
        return None
    history = await _history(db, session.id, message.seq, history_tokens)
    documents, excerpts = await _documents(db, user.id, message.content)
    return Grounding(
        reply_to=message,
        session=session,
        user=user,
        history=history,
        documents=documents,
        excerpts=excerpts,
        tools=await _tools(db),
    )


async def _history(db: AsyncSession, session_id: uuid.UUID, up_to_seq: int, budget: int) -> list[dict[str, Any]]:
    """The session's messages up to `up_to_seq`, newest first while they fit the budget, given oldest
    first. The message being answered always goes in (cut to the budget if it alone is larger). SYSTEM
    messages (failure notes) are the gateway's, not the conversation's."""
    rows = (
        await db.execute(
            select(col(Message.role), col(Message.content))
            .where(
                col(Message.session_id) == session_id,
                col(Message.seq) <= up_to_seq,
                col(Message.deleted_at).is_(None),
                col(Message.role) != MessageRole.SYSTEM,
            )
            .order_by(col(Message.seq).desc())
            .limit(200)
        )
    ).all()
    picked: list[dict[str, Any]] = []
    spent = 0
    for role, content in rows:
        cost = estimate_tokens(content)
        if picked and spent + cost > budget:
            break
        if not picked and cost > budget:
            content = content[-budget * CHARS_PER_TOKEN :]
            cost = budget
        picked.append({"role": "assistant" if role == MessageRole.ASSISTANT else "user", "content": content})
        spent += cost
    picked.reverse()
    return picked


def search_query(text: str) -> str | None:
    """An OR query of the message's words for `to_tsquery` (only letters and digits reach it)."""
    words = list(dict.fromkeys(word.lower() for word in _WORD.findall(text)))[:SEARCH_WORDS]
    return " | ".join(words) if words else None


async def _documents(db: AsyncSession, user_id: uuid.UUID, content: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The user's documents that best match the message: (attachments, excerpts for the prompt)."""
    query_text = search_query(content)
    if query_text is None:
        return [], []
    vector = content_vector()  # the index expression of idx_documents_content_text, as documentSearch uses it
    query = func.to_tsquery(ENGLISH, query_text)
    rank = func.ts_rank(vector, query)
    rows = (
        await db.execute(
            visible_documents(
                user_id,
                documents.c.id,
                documents.c.original_filename,
                documents.c.title,
                documents.c.mime_type,
                documents.c.file_size,
                func.left(documents.c.content_text, 20_000).label("content"),
                rank.label("rank"),
            )
            .where(vector.op("@@")(query))
            .order_by(rank.desc(), documents.c.id)
            .limit(MAX_DOCUMENTS)
        )
    ).all()
    attachments: list[dict[str, Any]] = []
    excerpts: list[str] = []
    words = query_text.split(" | ")
    for number, row in enumerate(rows, start=1):
        attachments.append(
            {
                "type": row.mime_type,
                "name": row.original_filename,
                "size": row.file_size,
                "url": f"urn:assistant-gateway:document:{row.id}",
                "documentId": str(row.id),
            }
        )
        name = row.title or row.original_filename
        excerpts.append(f"[{number}] {_plain(name, 255)}: {_excerpt(row.content or '', words)}")
    return attachments, excerpts


def _excerpt(content: str, words: list[str]) -> str:
    lowered = content.lower()
    hits = [index for index in (lowered.find(word) for word in words) if index >= 0]
    start = max(0, min(hits) - 200) if hits else 0
    return " ".join(content[start : start + DOCUMENT_EXCERPT_CHARS].split())


async def _tools(db: AsyncSession) -> list[Tool]:
    """The tools of active agents not known to be unhealthy, under their MCP names; where two agents
    share a name, each is prefixed by its agent's name."""
    agents = (
        await db.execute(
            select(col(MCPAgent.id), col(MCPAgent.name), col(MCPAgent.capabilities))
            .where(
                col(MCPAgent.deleted_at).is_(None),
                col(MCPAgent.status) == AgentStatus.ACTIVE,
                col(MCPAgent.health_status) != HealthStatus.UNHEALTHY,
            )
            .order_by(col(MCPAgent.name))
        )
    ).all()
    offered: list[tuple[str, uuid.UUID, dict[str, Any]]] = []
    counts: dict[str, int] = {}
    for agent_id, agent_name, capabilities in agents:
        for capability in capabilities or []:
            name = capability.get("name") if isinstance(capability, dict) else None
            if isinstance(name, str) and name:
                offered.append((agent_name, agent_id, capability))
                counts[name] = counts.get(name, 0) + 1
    tools: list[Tool] = []
    taken: set[str] = set()
    for agent_name, agent_id, capability in offered:
        name = capability["name"]
        wanted = name if counts[name] == 1 else f"{agent_name}__{name}"
        function_name = _FUNCTION_NAME.sub("_", wanted)[:64]
        if function_name in taken:
            continue
        taken.add(function_name)
        annotations = capability.get("annotations") or {}
        schema = capability.get("inputSchema")
        tools.append(
            Tool(
                function_name=function_name,
                agent_id=agent_id,
                tool_name=name,
                read_only=annotations.get("readOnlyHint") is True,
                description=str(capability.get("description") or ""),
                input_schema=schema if isinstance(schema, dict) else {},
            )
        )
        if len(tools) >= MAX_TOOLS:
            break
    return tools
