"""The task lifecycle's move table (pure: no database, no Redis) and the task event codec."""

from __future__ import annotations

import itertools
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from models import Task
from models.tasks import TaskStatus
from resolvers.task_events import TASK_EVENTS, decode_task, task_channel
from resolvers.task_lifecycle import FINISHED, MOVES, TaskMove, may_move

pytestmark = pytest.mark.unit  # needs neither PostgreSQL nor Redis

FORWARD = {
    (TaskStatus.PENDING, TaskStatus.RUNNING),
    (TaskStatus.RUNNING, TaskStatus.COMPLETED),
    (TaskStatus.RUNNING, TaskStatus.FAILED),
    (TaskStatus.PENDING, TaskStatus.CANCELLED),
    (TaskStatus.RUNNING, TaskStatus.CANCELLED),
    (TaskStatus.PENDING, TaskStatus.FAILED),
}
# The only ways back: `retryTask` and the sweep recovering the task of a dead worker.
BACK = {(TaskStatus.FAILED, TaskStatus.PENDING), (TaskStatus.RUNNING, TaskStatus.PENDING)}


def test_the_move_table_allows_exactly_the_forward_moves_retry_and_recovery() -> None:
    for source, target in itertools.product(TaskStatus, TaskStatus):
        assert may_move(source, target) == ((source, target) in FORWARD | BACK), (source, target)


def test_backwards_moves_are_refused() -> None:
    assert not may_move(TaskStatus.COMPLETED, TaskStatus.PENDING)
    assert not may_move(TaskStatus.COMPLETED, TaskStatus.RUNNING)
    assert not may_move(TaskStatus.CANCELLED, TaskStatus.PENDING)
    assert not may_move(TaskStatus.FAILED, TaskStatus.RUNNING)
    assert not may_move(TaskStatus.RUNNING, TaskStatus.RUNNING)
    for finished in FINISHED:
        assert not any(may_move(finished, target) for target in TaskStatus if target != TaskStatus.PENDING)


def test_every_named_move_starts_where_its_name_says() -> None:
    assert MOVES[TaskMove.CLAIM].sources == {TaskStatus.PENDING}
    assert MOVES[TaskMove.RETRY].sources == {TaskStatus.FAILED}
    assert MOVES[TaskMove.RECOVER].sources == {TaskStatus.RUNNING}
    assert MOVES[TaskMove.CANCEL].sources == {TaskStatus.PENDING, TaskStatus.RUNNING}
    assert all(move.target not in move.sources for move in MOVES.values())


def test_a_task_event_decodes_to_the_row_it_encoded() -> None:
    task = Task(
        id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        agent_id=uuid.uuid4(),
        session_id=None,
        task_type="add",
        input_payload={"a": 1},
        output_payload={"total": 3},
        status=TaskStatus.COMPLETED,
        started_at=datetime(2026, 5, 1, 9, tzinfo=UTC),
        completed_at=datetime(2026, 5, 1, 9, 1, tzinfo=UTC),
        processing_time_ms=12,
        retry_count=1,
        meta={"priority": "high"},
    )
    event = TASK_EVENTS.encode(task)
    row = decode_task(event)
    assert event["kind"] == "task"
    assert (row.id, row.user_id, row.agent_id, row.session_id) == (task.id, task.user_id, task.agent_id, None)
    assert (row.started_at, row.completed_at) == (task.started_at, task.completed_at)
    assert (row.input_payload, row.output_payload, row.metadata) == ({"a": 1}, {"total": 3}, {"priority": "high"})
    assert (row.status, row.retry_count, row.processing_time_ms) == ("completed", 1, 12)
    assert task_channel(task.user_id) == f"tasks:user:{task.user_id}"


def test_only_the_lifecycle_module_updates_tasks() -> None:
    root = Path(__file__).resolve().parents[2]
    owner = root / "resolvers" / "task_lifecycle.py"
    packages = ("gateway", "graph", "jobs", "loaders", "resolvers", "services")
    writers = [
        str(path.relative_to(root))
        for package in packages
        for path in (root / package).rglob("*.py")
        if path != owner and re.search(r"update\(Task\b|UPDATE\s+tasks\b", path.read_text(), re.IGNORECASE)
    ]
    assert writers == []
