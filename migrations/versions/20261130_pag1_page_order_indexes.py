"""Indexes on (parent, order key) for the connections whose default order no index served

A page is read as `WHERE <parent> = $1 ... ORDER BY <order> LIMIT n + 1` (batched: the same inside a LATERAL
per parent, issue 14). With an index on the parent and the whole order (its key, then `id`) the scan stops
after about a page; with the parent's index alone it reads every row of the parent and sorts them, and with
(parent, key) only, the planner may still prefer the key's own index and filter its way through other
parents' rows (tests/graph/test_batched_pages.py: 20,024 tasks read for two agents' pages; about a page
each with `id` in the index). Messages ((session_id, seq)), task and processing logs and token events had
theirs; these are the others: a user's sessions by activity, a user's documents by upload, tasks by start
under a user, a session, or an agent (narrowed to the viewer).

Revision ID: pag1
Revises: lif3
Create Date: 2026-11-30 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "pag1"
down_revision: str | Sequence[str] | None = "lif3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("idx_chat_sessions_user_activity", "chat_sessions", ["user_id", "last_activity_at", "id"]),
    ("idx_documents_user_uploaded", "documents", ["user_id", "uploaded_at", "id"]),
    ("idx_tasks_user_started", "tasks", ["user_id", "started_at", "id"]),
    ("idx_tasks_session_started", "tasks", ["session_id", "started_at", "id"]),
    ("idx_tasks_agent_user_started", "tasks", ["agent_id", "user_id", "started_at", "id"]),
)


def upgrade() -> None:
    # Built CONCURRENTLY, outside the migration's transaction: a busy database keeps taking writes to
    # these tables meanwhile (a plain CREATE INDEX blocks them for the whole build). A build that was
    # interrupted leaves an invalid index behind, so a re-run drops whatever is there first.
    with op.get_context().autocommit_block():
        for name, table, columns in INDEXES:
            op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)
            op.create_index(name, table, columns, postgresql_concurrently=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        for name, table, _ in reversed(INDEXES):
            op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)
