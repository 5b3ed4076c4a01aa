"""What job functions get in saq's `ctx`: the clients a worker process opens once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.crypto import SecretBox
from services.egress import EgressPolicy
from services.events import EventHub
from services.oauth.providers import Registry
from services.task_queues import TaskQueues


@dataclass
class WorkerDeps:
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    box: SecretBox
    policy: EgressPolicy
    events: EventHub
    queues: TaskQueues
    tasks_per_user: int = 2  # GATEWAY_TASKS_PER_USER
    registry: Registry = field(default_factory=lambda: Registry.from_settings({}))  # the OAuth providers
    token_refresh_margin: int = 300  # GATEWAY_TOKEN_REFRESH_MARGIN
    worker_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])


def deps_of(ctx: dict[str, Any]) -> WorkerDeps:
    return ctx["deps"]  # type: ignore[no-any-return]
