"""Task history: the run start beside the request time, and the task log (kept 90 days)

`tasks.started_at` is when the task was asked for (the seed's default, the connection's order); the
claim used to overwrite it. The start of the current run now goes to `run_started_at`. `task_logs` is the
seed's "task logs": one row per move of the task lifecycle and per failed call attempt, with its error
and duration, readable as `Task.log` and purged after 90 days.

Revision ID: lif1
Revises: ast1
Create Date: 2026-11-30 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "lif1"
down_revision: str | Sequence[str] | None = "ast1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("run_started_at", sa.DateTime(timezone=True), nullable=True))
    # Until now the claim wrote the run start over the request time: what is stored is the run start.
    op.execute("UPDATE tasks SET run_started_at = started_at WHERE status <> 'pending'")
    op.create_table(
        "task_logs",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("task_id", sa.UUID(), nullable=False),
        sa.Column("event", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("logged_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("task_logs_task_id_fkey"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("task_logs_pkey")),
    )
    op.create_index("idx_task_logs_task_id", "task_logs", ["task_id", "logged_at"], unique=False)
    op.create_index("idx_task_logs_logged_at", "task_logs", ["logged_at"], unique=False)


def downgrade() -> None:
    op.drop_index("idx_task_logs_logged_at", table_name="task_logs")
    op.drop_index("idx_task_logs_task_id", table_name="task_logs")
    op.drop_table("task_logs")
    op.execute("UPDATE tasks SET started_at = run_started_at WHERE run_started_at IS NOT NULL")
    op.drop_column("tasks", "run_started_at")
