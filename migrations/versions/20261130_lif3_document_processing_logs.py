"""Document processing logs (kept 90 days): what happened to each processing of a document

The seed's "processing logs": one row per move of the document lifecycle (claimed, completed, failed, queued
again), with the error and the time the processing took, readable as `Document.processingLog` and purged after
90 days by the retention purge.

Revision ID: lif3
Revises: lif2
Create Date: 2026-11-30 16:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "lif3"
down_revision: str | Sequence[str] | None = "lif2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "document_processing_logs",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("document_id", sa.UUID(), nullable=False),
        sa.Column("event", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("logged_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("document_processing_logs_document_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("document_processing_logs_pkey")),
    )
    op.create_index(
        "idx_document_processing_logs_document_id", "document_processing_logs", ["document_id", "logged_at"]
    )
    op.create_index("idx_document_processing_logs_logged_at", "document_processing_logs", ["logged_at"])


def downgrade() -> None:
    op.drop_index("idx_document_processing_logs_logged_at", table_name="document_processing_logs")
    op.drop_index("idx_document_processing_logs_document_id", table_name="document_processing_logs")
    op.drop_table("document_processing_logs")
