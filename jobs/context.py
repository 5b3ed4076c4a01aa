"""What job functions get in saq's `ctx`: the clients a worker process opens once."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jobs.queues import TaskQueues
from services.crypto import SecretBox
from services.egress import EgressPolicy
from services.events import EventHub


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


def deps_of(ctx: dict[str, Any]) -> WorkerDeps:
    return ctx["deps"]  # type: ignore[no-any-return]


def task_channel(user_id: uuid.UUID | str) -> str:
    return f"tasks:user:{user_id}"


def task_event(task: Any) -> dict[str, Any]:
    """A task as stored, for `taskUpdated` subscribers (plain JSON)."""
    from graph.node import column_values

    row = vars(column_values(task))
    return {"kind": "task", "task": json.loads(json.dumps(row, default=str))}


def job_timeout(configuration: dict[str, Any]) -> int:
    """saq kills a job past this: every attempt's timeout plus the backoff between them, with slack."""
    attempts = int(configuration.get("retries") or 0) + 1
    per_attempt = (configuration.get("timeout") or 30_000) / 1000 + 2
    return int(attempts * per_attempt + sum(min(0.2 * 2 ** n, 5) for n in range(attempts)) + 10)
