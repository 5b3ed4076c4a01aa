"""What job functions get in saq's `ctx`: the clients a worker process opens once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.crypto import SecretBox
from services.document_cache import DocumentCache
from services.document_queue import DocumentQueue
from services.egress import EgressPolicy
from services.events import EventHub
from services.storage import Storage
from services.task_queues import TaskQueues


@dataclass
class WorkerDeps:
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    box: SecretBox
    policy: EgressPolicy
    events: EventHub
    queues: TaskQueues
    storage: Storage
    document_queue: DocumentQueue
    document_cache: DocumentCache
    document_timeout: float = 120.0  # GATEWAY_DOCUMENT_TIMEOUT
    tasks_per_user: int = 2  # GATEWAY_TASKS_PER_USER
    worker_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])


def deps_of(ctx: dict[str, Any]) -> WorkerDeps:
    return ctx["deps"]  # type: ignore[no-any-return]
