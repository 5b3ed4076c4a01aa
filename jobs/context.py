"""What job functions get in saq's `ctx`: the clients a worker process opens once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from redis.asyncio import Redis
from saq.types import Context
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.crypto import SecretBox
from services.egress import EgressPolicy
from services.events import EventHub
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
    worker_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])


class JobContext(Context, total=False):
    """saq's job context, with what the worker's startup adds to it."""

    deps: WorkerDeps


def deps_of(ctx: JobContext) -> WorkerDeps:
    return ctx["deps"]
