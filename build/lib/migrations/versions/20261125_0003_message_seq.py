"""messages.seq: a gap-free per-session sequence, the order of a chat

NOW() is the transaction's start, so timestamps cannot order concurrent sends; every message instead
takes its number from the `UPDATE chat_sessions SET message_count = message_count + 1 RETURNING` that
also keeps the counter. Existing rows are numbered by (timestamp, id).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 15:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("seq", sa.Integer(), nullable=True))
    op.execute("""
        UPDATE messages AS m SET seq = numbered.seq
        FROM (SELECT id, row_number() OVER (PARTITION BY session_id ORDER BY timestamp, id) AS seq
              FROM messages) AS numbered
        WHERE numbered.id = m.id
    """)
    op.execute("""
        UPDATE chat_sessions AS s
        SET message_count = coalesce((SELECT max(seq) FROM messages WHERE session_id = s.id), 0)
    """)
    op.alter_column("messages", "seq", nullable=False)
    op.create_index("idx_messages_session_seq", "messages", ["session_id", "seq"], unique=True)


def downgrade() -> None:
    op.drop_index("idx_messages_session_seq", table_name="messages")
    op.drop_column("messages", "seq")
