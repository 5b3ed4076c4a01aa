"""What job functions get in saq's `ctx`: the worker process's resources (the same clients the web process
opens) and the worker's id."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields

from opentelemetry.trace import Span
from saq.types import Context

from services.resources import Resources


@dataclass
class WorkerDeps(Resources):
    worker_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @classmethod
    def of(cls, resources: Resources) -> WorkerDeps:
        return cls(**{each.name: getattr(resources, each.name) for each in fields(Resources)})

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
