"""users.role: who may change the shared MCP agent registry (operators)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 15:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("role", sa.String(length=20), server_default=sa.text("'user'::character varying"), nullable=False),
    )
    op.create_check_constraint("role", "users", "role IN ('user', 'operator')")


def downgrade() -> None:
    op.drop_constraint(op.f("users_role_check"), "users", type_="check")
    op.drop_column("users", "role")
