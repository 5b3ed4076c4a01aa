"""What job functions get in saq's `ctx`: the worker process's resources (the same clients the web process
opens) and the worker's id."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field, fields

from opentelemetry.trace import Span
from saq.types import Context
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.db import session_factory
from services.resources import Resources


@dataclass
class WorkerDeps(Resources):
    worker_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @classmethod
    def of(cls, resources: Resources) -> WorkerDeps:
        return cls(**{each.name: getattr(resources, each.name) for each in fields(Resources)})

    @functools.cached_property
    def lone_statements(self) -> async_sessionmaker[AsyncSession]:
        """Sessions for work that is one statement: it runs alone, in autocommit, so it costs one round
        trip instead of three (BEGIN, the statement, COMMIT or ROLLBACK). One statement is atomic by
        itself, and under READ COMMITTED a transaction around a single read changes nothing it sees.
        Never for two statements that must agree or commit together."""
        return session_factory(self.engine.execution_options(isolation_level="AUTOCOMMIT"))

    @property
    def document_timeout(self) -> float:
        """GATEWAY_DOCUMENT_TIMEOUT: seconds one file's extraction may take."""
        return self.settings.document_timeout

    @property
    def tasks_per_user(self) -> int:
        """GATEWAY_TASKS_PER_USER: tasks of one user running at once."""
        return self.settings.tasks_per_user


class JobContext(Context, total=False):
    """saq's job context, with what the worker adds to it: its resources (at startup) and the job's span
    (from before to after the job runs)."""

    deps: WorkerDeps
    span: Span


def deps_of(ctx: JobContext) -> WorkerDeps:
    return ctx["deps"]
