"""Tasks: node visibility, page specs (by user, session or agent; always the viewer's own, never the hidden ones),
orders."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, cast, literal, select
from sqlalchemy.dialects.postgresql import JSONB

from loaders import visibility
from loaders.columns import row_columns
from loaders.pagination import Order, PageSpec
from loaders.visibility import tasks
from models import TaskLog
from models.base import table_of

TASK_COLUMNS = row_columns(tasks)

TASK_ORDERS = {
    "STARTED_AT_DESC": Order("tst-", (tasks.c.started_at, tasks.c.id), descending=True),
    "STARTED_AT_ASC": Order("tst+", (tasks.c.started_at, tasks.c.id), descending=False),
}


@dataclass(frozen=True)
class TaskFilter:
    statuses: tuple[str, ...] = ()
    agent_ids: tuple[uuid.UUID, ...] = ()
    task_types: tuple[str, ...] = ()


def visible_tasks(viewer_id: uuid.UUID | None) -> Select[Any]:
    return visibility.visible_tasks(viewer_id, *TASK_COLUMNS)


# `metadata.userVisible: false` (tasks the system runs for the user, e.g. the assistant's lookups): left out of
# every list; still readable by `node(id:)` and `taskUpdated(taskId:)`.
USER_VISIBLE = tasks.c.metadata["userVisible"].is_distinct_from(cast(literal("false"), JSONB))


def _where(spec_filter: TaskFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [USER_VISIBLE]
    if spec_filter.statuses:
        where.append(tasks.c.status.in_(spec_filter.statuses))
    if spec_filter.agent_ids:
        where.append(tasks.c.agent_id.in_(spec_filter.agent_ids))
    if spec_filter.task_types:
        where.append(tasks.c.task_type.in_(spec_filter.task_types))
    return where


def tasks_of_user(spec_filter: TaskFilter) -> PageSpec:
    """The parent is the viewer: the lists hang off `viewer`."""
    return PageSpec(base=select(*TASK_COLUMNS), parent=tasks.c.user_id, where=tuple(_where(spec_filter)))


def tasks_by(parent: ColumnElement[Any], viewer_id: uuid.UUID | None) -> Callable[[TaskFilter], PageSpec]:
    """Tasks under a session or an agent, narrowed to the viewer's own."""

    def spec_for(spec_filter: TaskFilter) -> PageSpec:
        return PageSpec(base=visible_tasks(viewer_id), parent=parent, where=tuple(_where(spec_filter)))

    return spec_for


def tasks_of_session(viewer_id: uuid.UUID | None) -> Callable[[TaskFilter], PageSpec]:
    return tasks_by(tasks.c.session_id, viewer_id)


def tasks_of_agent(viewer_id: uuid.UUID | None) -> Callable[[TaskFilter], PageSpec]:
    return tasks_by(tasks.c.agent_id, viewer_id)


task_logs = table_of(TaskLog)
TASK_LOG_ORDER = Order("tlg+", (task_logs.c.logged_at, task_logs.c.id), descending=False)


def logs_of_task(_: object) -> PageSpec:
    """A task's log, oldest first (the parent task is one the viewer reads)."""
    return PageSpec(base=select(*task_logs.c), parent=task_logs.c.task_id)
