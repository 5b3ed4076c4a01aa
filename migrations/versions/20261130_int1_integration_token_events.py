"""integration_token_events: the seed's token refresh history (every refresh and revocation, its outcome)

Revision ID: int1
Revises: 0003
Create Date: 2026-11-30 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "int1"
down_revision: str | Sequence[str] | None = "doc1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "integration_token_events",
        sa.Column("id", postgresql.UUID(as_uuid=True), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("integration_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("attempted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=True),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name="integration_token_events_integration_id_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="integration_token_events_pkey"),
    )
    op.create_index(
        "idx_integration_token_events_integration", "integration_token_events", ["integration_id", "attempted_at"]
    )
    op.create_index("idx_integration_token_events_attempted_at", "integration_token_events", ["attempted_at"])


def downgrade() -> None:
    op.drop_table("integration_token_events")
