"""Rows of the bench dataset, built in memory one batch of users at a time for COPY.

Everything derives from one seeded RNG (ids included), so two seeds with the same `SeedSpec` hold the
same rows and figures from different days compare like for like.

Soft-deleted rows are seeded on purpose, and for the heavy user where they would hurt most (deleted
sessions among the most recent, deleted messages inside the first page): a server that forgets a
filter then returns different rows than the baseline and the run's verification stops it.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import corpus
from bench.config import HEAVY_EMAIL, MESSAGES_PAGE, SeedSpec, user_email
from bench.corpus import Corpus

USER_COLUMNS = (
    "id",
    "email",
    "password_hash",
    "first_name",
    "last_name",
    "business_name",
    "business_type",
    "phone",
    "timezone",
    "preferences",
    "email_verified",
    "email_verified_at",
    "last_login_at",
    "created_at",
    "updated_at",
)
SESSION_COLUMNS = (
    "id",
    "user_id",
    "title",
    "context_data",
    "status",
    "message_count",
    "last_activity_at",
    "created_at",
    "updated_at",
    "deleted_at",
)
MESSAGE_COLUMNS = (
    "id",
    "session_id",
    "role",
    "content",
    "metadata",
    "token_count",
    "processing_time_ms",
    "timestamp",
    "edited_at",
    "deleted_at",
    "seq",
)
DOCUMENT_COLUMNS = (
    "id",
    "user_id",
    "filename",
    "original_filename",
    "title",
    "category",
    "tags",
    "mime_type",
    "file_size",
    "file_path",
    "content_text",
    "extracted_data",
    "processing_status",
    "processing_error",
    "uploaded_at",
    "processed_at",
    "deleted_at",
)
AGENT_COLUMNS = (
    "id",
    "name",
    "description",
    "endpoint",
    "capabilities",
    "configuration",
    "status",
    "version",
    "health_check_url",
    "last_health_check",
    "health_status",
    "created_at",
    "updated_at",
)
TASK_COLUMNS = (
    "id",
    "user_id",
    "session_id",
    "agent_id",
    "task_type",
    "input_payload",
    "output_payload",
    "status",
    "error_message",
    "started_at",
    "completed_at",
    "processing_time_ms",
    "retry_count",
    "metadata",
)

Record = tuple[Any, ...]
HISTORY = timedelta(days=240)  # "timestamps spread over months"
HEAVY_DELETED_SESSIONS = 5


@dataclass
class Batch:
    users: list[Record] = field(default_factory=list)
    sessions: list[Record] = field(default_factory=list)
    messages: list[Record] = field(default_factory=list)
    documents: list[Record] = field(default_factory=list)
    tasks: list[Record] = field(default_factory=list)


class Generator:
    def __init__(self, spec: SeedSpec, password_hash: str, now: datetime | None = None) -> None:
        self.spec = spec
        self.rng = random.Random(spec.random_seed)
        self.text = Corpus(self.rng)
        self.password_hash = password_hash
        # A fixed "now" keeps a re-seed byte-identical; real now would shift every timestamp.
        self.now = now or datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
        self.agent_ids: list[uuid.UUID] = []

    def new_id(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def _ago(self, span: timedelta) -> datetime:
        return self.now - span * self.rng.random()

    # agents -------------------------------------------------------------------------------
    def agents(self) -> list[Record]:
        rows: list[Record] = []
        for index in range(self.spec.agents):
            kind, description = corpus.AGENT_KINDS[index % len(corpus.AGENT_KINDS)]
            name = kind if index < len(corpus.AGENT_KINDS) else f"{kind}-{index}"
            agent_id = self.new_id()
            self.agent_ids.append(agent_id)
            created = self._ago(HISTORY)
            capabilities = [
                {
                    "name": f"{kind}.{verb}",
                    "description": f"{verb.title()} via the {kind} agent.",
                    "inputSchema": {"type": "object", "properties": {"query": {"type": "string"}}},
                    "outputSchema": {"type": "object"},
                }
                for verb in ("search", "create", "update")
            ]
            configuration = {
                "timeout": 30000,
                "retries": 2,
                "rateLimit": {"requests": 60, "window": 60},
                "authentication": {"type": "none", "config": {}},
            }
            # Port 9 (discard) on loopback: nothing answers, and nothing leaves the machine.
            endpoint = f"http://127.0.0.1:9/mcp/{name}"
            rows.append(
                (
                    agent_id,
                    name,
                    description,
                    endpoint,
                    json.dumps(capabilities),
                    json.dumps(configuration),
                    "active",
                    "1.2.0",
                    f"{endpoint}/health",
                    None,
                    "unknown",
                    created,
                    created,
                )
            )
        return rows

    # users and what they own ----------------------------------------------------------------
    def batch(self, indexes: Sequence[int]) -> Batch:
        """Users `indexes` (0-based; -1 is the heavy user) with everything they own."""
        batch = Batch()
        for index in indexes:
            self._user(batch, index)
        return batch

    def _user(self, batch: Batch, index: int) -> None:
        rng = self.rng
        heavy = index < 0
        user_id = self.new_id()
        first, last = rng.choice(corpus.FIRST_NAMES), rng.choice(corpus.LAST_NAMES)
        business_type = rng.choice(tuple(corpus.BUSINESS_KINDS))
        business = f"{rng.choice(corpus.BUSINESS_WORDS)} {rng.choice(corpus.BUSINESS_KINDS[business_type])}"
        created = self.now - HISTORY - timedelta(days=rng.randint(1, 365))
        verified = heavy or rng.random() < 0.9
        preferences = {
            "notifications": {"email": True, "push": rng.random() < 0.7, "sms": rng.random() < 0.2},
            "ai": {
                "personality": rng.choice(("professional", "friendly", "concise")),
                "proactiveMode": rng.random() < 0.3,
                "autoSuggestions": True,
            },
            "integrations": {"autoConnect": False},
        }
        batch.users.append(
            (
                user_id,
                HEAVY_EMAIL if heavy else user_email(index),
                self.password_hash,
                first,
                last,
                business,
                business_type,
                f"+61 4{rng.randint(10, 99)} {rng.randint(100, 999)} {rng.randint(100, 999)}",
                rng.choice(corpus.TIMEZONES),
                json.dumps(preferences),
                verified,
                created + timedelta(hours=1) if verified else None,
                self._ago(timedelta(days=14)),
                created,
                created,
            )
        )
        session_ids = self._sessions(batch, user_id, f"{first} {last}", business, heavy)
        self._documents(batch, user_id)
        self._tasks(batch, user_id, session_ids)

    def _sessions(self, batch: Batch, user_id: uuid.UUID, name: str, business: str, heavy: bool) -> list[uuid.UUID]:
        rng, spec = self.rng, self.spec
        count = spec.heavy_sessions if heavy else spec.sessions_per_user
        per_session = spec.heavy_messages if heavy else spec.messages_per_session
        session_ids: list[uuid.UUID] = []
        for number in range(count + (HEAVY_DELETED_SESSIONS if heavy else 0)):
            session_id = self.new_id()
            session_ids.append(session_id)
            if heavy:
                # The extra sessions are the deleted ones, and the most recent: a missing filter shows.
                deleted = number >= count
                status = "deleted" if deleted else "active"
                start = self._ago(timedelta(days=1)) if deleted else self._ago(HISTORY)
            else:
                draw = rng.random()
                status = "deleted" if draw < 0.03 else "archived" if draw < 0.09 else "active"
                start = self._ago(HISTORY)
            # message_count counts every message the session numbered (soft-deleted ones keep their seq).
            _, last_at = self._messages(batch, session_id, start, per_session, name, business, heavy)
            visible = per_session
            context = {
                "businessContext": {"taskType": rng.choice(corpus.INTENTS)},
                "aiContext": {"personality": "professional", "memory": [], "preferences": {}},
            }
            batch.sessions.append(
                (
                    session_id,
                    user_id,
                    self.text.session_title(),
                    json.dumps(context),
                    status,
                    visible,
                    last_at,
                    start,
                    last_at,
                    last_at + timedelta(days=2) if status == "deleted" else None,
                )
            )
        return session_ids

    def _messages(
        self, batch: Batch, session_id: uuid.UUID, start: datetime, count: int, name: str, business: str, heavy: bool
    ) -> tuple[int, datetime]:
        """One conversation: optional system prompt, then user/assistant turns, time strictly rising."""
        rng = self.rng
        at = start
        visible = 0
        # The heavy user's sessions must keep at least a full page of visible messages.
        deletable = max(count - MESSAGES_PAGE, 0) if heavy else count
        deleted_positions = {2, 5} if heavy and deletable >= 2 else set()
        for position in range(count):
            if position == 0 and rng.random() < 0.15:
                role, content = "system", self.text.system_message(business)
            elif (position % 2 == 0) == (rng.random() < 0.93):
                role, content = "user", self.text.user_message()
            else:
                role, content = "assistant", self.text.assistant_message(name)
            at += timedelta(seconds=rng.uniform(2, 30) if role == "assistant" else rng.uniform(20, 900))
            deleted = position in deleted_positions if heavy else rng.random() < 0.01
            metadata: dict[str, Any] = {}
            token_count = processing_ms = None
            if role == "assistant":
                metadata = {
                    "aiMetadata": {
                        "model": rng.choice(corpus.MODELS),
                        "temperature": 0.3,
                        "confidence": round(rng.uniform(0.6, 0.99), 2),
                        "intent": rng.choice(corpus.INTENTS),
                        "entities": [],
                    },
                    "suggestions": ["Send it", "Make it shorter"] if rng.random() < 0.3 else [],
                }
                token_count = len(content) // 4
                processing_ms = rng.randint(300, 9000)
            edited = at + timedelta(minutes=3) if role == "user" and rng.random() < 0.02 else None
            batch.messages.append(
                (
                    self.new_id(),
                    session_id,
                    role,
                    content,
                    json.dumps(metadata),
                    token_count,
                    processing_ms,
                    at,
                    edited,
                    at + timedelta(hours=1) if deleted else None,
                    position + 1,
                )
            )
            visible += not deleted
        return visible, at

    def _documents(self, batch: Batch, user_id: uuid.UUID) -> None:
        rng = self.rng
        for _ in range(self.spec.documents_per_user):
            category, mime, ext, title = rng.choice(corpus.DOCUMENT_KINDS)
            doc_id = self.new_id()
            uploaded = self._ago(HISTORY)
            failed = rng.random() < 0.08
            text = None if failed else self.text.document_text()
            extracted = (
                {}
                if failed
                else {
                    "summary": text[:180] if text else None,
                    "keyTerms": rng.sample(corpus.TAGS, 3),
                    "metadata": {"pageCount": rng.randint(1, 30), "language": "en"},
                }
            )
            original = f"{category}-{rng.randint(1000, 9999)}.{ext}"
            batch.documents.append(
                (
                    doc_id,
                    user_id,
                    f"{doc_id}.{ext}",
                    original,
                    self.text.document_title(title),
                    category,
                    rng.sample(corpus.TAGS, rng.randint(0, 4)),
                    mime,
                    rng.randint(2_000, 4_000_000),
                    f"bench/{user_id}/{doc_id}.{ext}",
                    text,
                    json.dumps(extracted),
                    "failed" if failed else "completed",
                    "could not extract text" if failed else None,
                    uploaded,
                    uploaded + timedelta(seconds=rng.randint(2, 120)),
                    None,
                )
            )

    def _tasks(self, batch: Batch, user_id: uuid.UUID, session_ids: list[uuid.UUID]) -> None:
        rng = self.rng
        # Only finished tasks: a pending or running row could be picked up by a worker mid-run.
        for _ in range(self.spec.tasks_per_user):
            status = rng.choices(("completed", "failed", "cancelled"), weights=(75, 15, 10))[0]
            started = self._ago(HISTORY)
            took = rng.randint(200, 60_000)
            intent = rng.choice(corpus.INTENTS)
            batch.tasks.append(
                (
                    self.new_id(),
                    user_id,
                    rng.choice(session_ids) if rng.random() < 0.7 else None,
                    rng.choice(self.agent_ids),
                    intent,
                    json.dumps({"query": self.text.user_message()}),
                    json.dumps({"result": "ok", "items": rng.randint(0, 12)}) if status == "completed" else None,
                    status,
                    "agent timed out" if status == "failed" else None,
                    started,
                    started + timedelta(milliseconds=took),
                    took,
                    1 if status == "failed" else 0,
                    json.dumps({"priority": rng.choice(("low", "medium", "high")), "userVisible": True}),
                )
            )
