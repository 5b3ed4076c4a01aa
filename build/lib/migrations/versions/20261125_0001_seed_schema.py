"""seed schema: the seven tables of the data model, their constraints and every index it lists

Revision ID: 0001
Revises:
Create Date: 2026-11-25 15:12:34.766154
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate may emit sqlmodel.sql.sqltypes.AutoString)
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mcp_agents",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("endpoint", sa.String(length=500), nullable=False),
        sa.Column(
            "capabilities",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "configuration",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=True,
        ),
        sa.Column("status", sa.String(length=20), server_default=sa.text("'active'::character varying"), nullable=True),
        sa.Column("version", sa.String(length=20), nullable=True),
        sa.Column("health_check_url", sa.String(length=500), nullable=True),
        sa.Column("last_health_check", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "health_status", sa.String(length=20), server_default=sa.text("'unknown'::character varying"), nullable=True
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("mcp_agents_pkey")),
        sa.UniqueConstraint("name", name=op.f("mcp_agents_name_key")),
    )
    op.create_index("idx_mcp_agents_capabilities", "mcp_agents", ["capabilities"], unique=False, postgresql_using="gin")
    op.create_index("idx_mcp_agents_name", "mcp_agents", ["name"], unique=False)
    op.create_index("idx_mcp_agents_status", "mcp_agents", ["status"], unique=False)
    op.create_table(
        "users",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("business_name", sa.String(length=255), nullable=True),
        sa.Column("business_type", sa.String(length=100), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column(
            "timezone",
            sa.String(length=50),
            server_default=sa.text("'Australia/Sydney'::character varying"),
            nullable=True,
        ),
        sa.Column(
            "preferences", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True
        ),
        sa.Column("email_verified", sa.Boolean(), server_default=sa.text("false"), nullable=True),
        sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("users_pkey")),
        sa.UniqueConstraint("email", name=op.f("users_email_key")),
    )
    op.create_index("idx_users_business_type", "users", ["business_type"], unique=False)
    op.create_index("idx_users_created_at", "users", ["created_at"], unique=False)
    op.create_index("idx_users_email", "users", ["email"], unique=False)
    op.create_table(
        "chat_sessions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=True),
        sa.Column(
            "context_data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=True,
        ),
        sa.Column("status", sa.String(length=20), server_default=sa.text("'active'::character varying"), nullable=True),
        sa.Column("message_count", sa.Integer(), server_default=sa.text("0"), nullable=True),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("chat_sessions_user_id_fkey"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("chat_sessions_pkey")),
    )
    op.create_index("idx_chat_sessions_last_activity", "chat_sessions", ["last_activity_at"], unique=False)
    op.create_index("idx_chat_sessions_status", "chat_sessions", ["status"], unique=False)
    op.create_index("idx_chat_sessions_user_id", "chat_sessions", ["user_id"], unique=False)
    op.create_table(
        "documents",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("original_filename", sa.String(length=255), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=True),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("tags", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("mime_type", sa.String(length=100), nullable=False),
        sa.Column("file_size", sa.Integer(), nullable=False),
        sa.Column("file_path", sa.String(length=500), nullable=False),
        sa.Column("content_text", sa.Text(), nullable=True),
        sa.Column(
            "extracted_data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=True,
        ),
        sa.Column(
            "processing_status",
            sa.String(length=20),
            server_default=sa.text("'pending'::character varying"),
            nullable=True,
        ),
        sa.Column("processing_error", sa.Text(), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("documents_user_id_fkey"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("documents_pkey")),
    )
    op.create_index("idx_documents_category", "documents", ["category"], unique=False)
    op.create_index(
        "idx_documents_content_text",
        "documents",
        [sa.literal_column("to_tsvector('english'::regconfig, content_text)")],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index("idx_documents_processing_status", "documents", ["processing_status"], unique=False)
    op.create_index("idx_documents_tags", "documents", ["tags"], unique=False, postgresql_using="gin")
    op.create_index("idx_documents_uploaded_at", "documents", ["uploaded_at"], unique=False)
    op.create_index("idx_documents_user_id", "documents", ["user_id"], unique=False)
    op.create_table(
        "integrations",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("provider", sa.String(length=50), nullable=False),
        sa.Column("provider_user_id", sa.String(length=255), nullable=True),
        sa.Column("encrypted_tokens", sa.Text(), nullable=False),
        sa.Column("refresh_token_encrypted", sa.Text(), nullable=True),
        sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("scopes", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("capabilities", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column(
            "status", sa.String(length=20), server_default=sa.text("'connected'::character varying"), nullable=True
        ),
        sa.Column(
            "metadata", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True
        ),
        sa.Column("last_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("connected_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("integrations_user_id_fkey"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("integrations_pkey")),
        sa.UniqueConstraint("user_id", "provider", name=op.f("integrations_user_id_provider_key")),
    )
    op.create_index("idx_integrations_provider", "integrations", ["provider"], unique=False)
    op.create_index("idx_integrations_status", "integrations", ["status"], unique=False)
    op.create_index("idx_integrations_token_expires_at", "integrations", ["token_expires_at"], unique=False)
    op.create_index("idx_integrations_user_id", "integrations", ["user_id"], unique=False)
    op.create_table(
        "messages",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("session_id", sa.UUID(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column(
            "metadata", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True
        ),
        sa.Column("token_count", sa.Integer(), nullable=True),
        sa.Column("processing_time_ms", sa.Integer(), nullable=True),
        sa.Column("timestamp", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=True),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"], ["chat_sessions.id"], name=op.f("messages_session_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("messages_pkey")),
    )
    op.create_index("idx_messages_role", "messages", ["role"], unique=False)
    op.create_index("idx_messages_session_id", "messages", ["session_id"], unique=False)
    op.create_index("idx_messages_timestamp", "messages", ["timestamp"], unique=False)
    op.create_table(
        "tasks",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("session_id", sa.UUID(), nullable=True),
        sa.Column("agent_id", sa.UUID(), nullable=False),
        sa.Column("task_type", sa.String(length=100), nullable=False),
        sa.Column("input_payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("output_payload", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "status", sa.String(length=20), server_default=sa.text("'pending'::character varying"), nullable=True
        ),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("processing_time_ms", sa.Integer(), nullable=True),
        sa.Column("retry_count", sa.Integer(), server_default=sa.text("0"), nullable=True),
        sa.Column(
            "metadata", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=True
        ),
        sa.ForeignKeyConstraint(["agent_id"], ["mcp_agents.id"], name=op.f("tasks_agent_id_fkey"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["session_id"], ["chat_sessions.id"], name=op.f("tasks_session_id_fkey"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("tasks_user_id_fkey"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("tasks_pkey")),
    )
    op.create_index("idx_tasks_agent_id", "tasks", ["agent_id"], unique=False)
    op.create_index("idx_tasks_session_id", "tasks", ["session_id"], unique=False)
    op.create_index("idx_tasks_started_at", "tasks", ["started_at"], unique=False)
    op.create_index("idx_tasks_status", "tasks", ["status"], unique=False)
    op.create_index("idx_tasks_user_id", "tasks", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index("idx_tasks_user_id", table_name="tasks")
    op.drop_index("idx_tasks_status", table_name="tasks")
    op.drop_index("idx_tasks_started_at", table_name="tasks")
    op.drop_index("idx_tasks_session_id", table_name="tasks")
    op.drop_index("idx_tasks_agent_id", table_name="tasks")
    op.drop_table("tasks")
    op.drop_index("idx_messages_timestamp", table_name="messages")
    op.drop_index("idx_messages_session_id", table_name="messages")
    op.drop_index("idx_messages_role", table_name="messages")
    op.drop_table("messages")
    op.drop_index("idx_integrations_user_id", table_name="integrations")
    op.drop_index("idx_integrations_token_expires_at", table_name="integrations")
    op.drop_index("idx_integrations_status", table_name="integrations")
    op.drop_index("idx_integrations_provider", table_name="integrations")
    op.drop_table("integrations")
    op.drop_index("idx_documents_user_id", table_name="documents")
    op.drop_index("idx_documents_uploaded_at", table_name="documents")
    op.drop_index("idx_documents_tags", table_name="documents", postgresql_using="gin")
    op.drop_index("idx_documents_processing_status", table_name="documents")
    op.drop_index("idx_documents_content_text", table_name="documents", postgresql_using="gin")
    op.drop_index("idx_documents_category", table_name="documents")
    op.drop_table("documents")
    op.drop_index("idx_chat_sessions_user_id", table_name="chat_sessions")
    op.drop_index("idx_chat_sessions_status", table_name="chat_sessions")
    op.drop_index("idx_chat_sessions_last_activity", table_name="chat_sessions")
    op.drop_table("chat_sessions")
    op.drop_index("idx_users_email", table_name="users")
    op.drop_index("idx_users_created_at", table_name="users")
    op.drop_index("idx_users_business_type", table_name="users")
    op.drop_table("users")
    op.drop_index("idx_mcp_agents_status", table_name="mcp_agents")
    op.drop_index("idx_mcp_agents_name", table_name="mcp_agents")
    op.drop_index("idx_mcp_agents_capabilities", table_name="mcp_agents", postgresql_using="gin")
    op.drop_table("mcp_agents")
