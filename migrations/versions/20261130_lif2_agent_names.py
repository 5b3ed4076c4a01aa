"""A deleted agent's name can be taken again: UNIQUE(name) holds for live agents only

The seed's `name ... UNIQUE` becomes a partial unique index over rows without `deleted_at`, so a soft-
deleted agent keeps its row (and can be restored while no live agent took its name) without holding
the name for ever.

Revision ID: lif2
Revises: lif1
Create Date: 2026-11-30 16:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "lif2"
down_revision: str | Sequence[str] | None = "lif1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint("mcp_agents_name_key", "mcp_agents", type_="unique")
    op.execute("CREATE UNIQUE INDEX mcp_agents_name_live_key ON mcp_agents (name) WHERE deleted_at IS NULL")


def downgrade() -> None:
    # Deleted agents whose name was reused give way: they keep their row under a suffixed name.
    op.execute("""
        UPDATE mcp_agents AS d SET name = left(d.name, 90) || '~' || left(d.id::text, 8)
        WHERE d.deleted_at IS NOT NULL
          AND EXISTS (SELECT 1 FROM mcp_agents AS o WHERE o.name = d.name AND o.id <> d.id
                      AND (o.deleted_at IS NULL OR o.deleted_at > d.deleted_at))
    """)
    op.execute("DROP INDEX mcp_agents_name_live_key")
    op.create_unique_constraint("mcp_agents_name_key", "mcp_agents", ["name"])
