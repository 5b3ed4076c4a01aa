"""Settings from the environment (pydantic-settings). The README's configuration table mirrors this."""

from __future__ import annotations

import os
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def oauth_environment() -> dict[str, str]:
    """`GATEWAY_OAUTH_<PROVIDER>_<NAME>` variables as they are (services/oauth/providers.py reads them)."""
    return {key.upper(): value for key, value in os.environ.items() if key.upper().startswith("GATEWAY_OAUTH_")}


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


def default_data_dir() -> Path:
    # pgserver run as root creates a system user and opens traverse permissions on every parent of
    # its data folder, so as root the embedded data never lives under a home folder.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/assistant-gateway")
    return Path.home() / ".local" / "share" / "assistant-gateway"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    env: Environment = Field(default=Environment.DEVELOPMENT, validation_alias="GATEWAY_ENV")
    data_dir: Path = Field(default_factory=default_data_dir, validation_alias="GATEWAY_DATA_DIR")
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list, validation_alias="GATEWAY_CORS_ORIGINS")
    allow_loopback_agents: bool | None = Field(default=None, validation_alias="GATEWAY_ALLOW_LOOPBACK_AGENTS")
    allow_private_agents: bool = Field(default=False, validation_alias="GATEWAY_ALLOW_PRIVATE_AGENTS")
    run_worker: bool | None = Field(default=None, validation_alias="GATEWAY_RUN_WORKER")
    smtp_url: str | None = Field(default=None, validation_alias="GATEWAY_SMTP_URL")
    # JWT signing keys: a JSON JWK set of private Ed25519 keys, each with a `kid`; the first signs.
    jwt_private_keys: str | None = Field(default=None, validation_alias="GATEWAY_JWT_PRIVATE_KEYS")
    jwt_issuer: str = Field(default="assistant-gateway", validation_alias="GATEWAY_JWT_ISSUER")
    access_token_ttl: int = Field(default=900, ge=60, le=3600, validation_alias="GATEWAY_ACCESS_TOKEN_TTL")
    # Secrets at rest: `kid:base64key,kid2:base64key` (AES-256-GCM); the first encrypts.
    encryption_keys: str | None = Field(default=None, validation_alias="GATEWAY_ENCRYPTION_KEYS")
    max_query_depth: int = Field(default=12, ge=2, validation_alias="GATEWAY_MAX_QUERY_DEPTH")
    max_aliases: int = Field(default=30, ge=1, validation_alias="GATEWAY_MAX_ALIASES")
    max_tokens: int = Field(default=2000, ge=50, validation_alias="GATEWAY_MAX_TOKENS")
    # The document itself (graph/document_limits.py): its length, and its selections once fragments are
    # expanded, in all and in one selection set.
    metrics_token: str | None = Field(default=None, validation_alias="GATEWAY_METRICS_TOKEN")
    log_format: str = Field(default="json", pattern="^(json|text)$", validation_alias="GATEWAY_LOG_FORMAT")
    trusted_documents: Path | None = Field(default=None, validation_alias="GATEWAY_TRUSTED_DOCUMENTS")
    max_query_bytes: int = Field(default=32 * 1024, ge=1024, validation_alias="GATEWAY_MAX_QUERY_BYTES")
    max_fields: int = Field(default=1000, ge=10, validation_alias="GATEWAY_MAX_FIELDS")
    max_fields_per_set: int = Field(default=100, ge=10, validation_alias="GATEWAY_MAX_FIELDS_PER_SET")
    ws_init_timeout: int = Field(default=10, ge=1, le=300, validation_alias="GATEWAY_WS_INIT_TIMEOUT")
    ws_max_subscriptions: int = Field(default=20, ge=1, validation_alias="GATEWAY_WS_MAX_SUBSCRIPTIONS")
    ws_queue_size: int = Field(default=1000, ge=10, validation_alias="GATEWAY_WS_QUEUE_SIZE")
    ws_max_connections_per_user: int = Field(default=10, ge=1, validation_alias="GATEWAY_WS_MAX_CONNECTIONS_PER_USER")
    # Reads (issue 14): a selection the database can answer whole is compiled into one SQL statement that
    # builds its JSON (graph/compiled/); off, every field goes through its resolver.
    sql_compiler: bool = Field(default=True, validation_alias="GATEWAY_SQL_COMPILER")
    db_pool_size: int = Field(default=10, ge=1, validation_alias="GATEWAY_DB_POOL_SIZE")
    max_sockets_per_address: int = Field(default=100, ge=1, validation_alias="GATEWAY_MAX_SOCKETS_PER_ADDRESS")
    # HTTP connections (cli/http.py): open per peer address, and how long a request's headers may take.
    max_connections_per_address: int = Field(default=256, ge=1, validation_alias="GATEWAY_MAX_CONNECTIONS_PER_ADDRESS")
    http_header_timeout: float = Field(default=10.0, gt=0, le=300, validation_alias="GATEWAY_HTTP_HEADER_TIMEOUT")
    # Proxies whose `X-Forwarded-For` names the client: comma-separated addresses or CIDRs.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="GATEWAY_TRUSTED_PROXIES"
    )
    # Query cost (graph/cost.py): the objects one operation may build, and the cost units each user (or
    # anonymous client address) may spend per window; a budget of 0 turns the per-user budget off.
    max_query_cost: int = Field(default=10_000, ge=1, validation_alias="GATEWAY_MAX_QUERY_COST")
    cost_budget: int = Field(default=200_000, ge=0, validation_alias="GATEWAY_COST_BUDGET")
    cost_window_seconds: int = Field(default=60, ge=1, le=86_400, validation_alias="GATEWAY_COST_WINDOW_SECONDS")
    # Tasks: how many of one user's tasks run at once across all workers; more wait (deferred, not
    # failed), so one user's backlog cannot take every worker slot.
    tasks_per_user: int = Field(default=2, ge=1, le=1000, validation_alias="GATEWAY_TASKS_PER_USER")
    # Identity hardening (issue 8): sign-ups per client address per hour, whatever their outcome.
    register_per_hour: int = Field(default=20, ge=1, validation_alias="GATEWAY_REGISTER_PER_HOUR")
    # Size limits at the door: an HTTP request body over this many bytes is refused with 413 before it
    # is read whole (uploads will get their own limit).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, validation_alias="GATEWAY_MAX_BODY_BYTES")
    # Documents (issue 10): where originals live (unset: `uploads/` under the data folder; or
    # `s3://bucket/prefix` with the standard AWS_* variables), how long one file's extraction may take,
    # how many files one worker processes at once, and the external base URL of signed download links.
    storage_url: str | None = Field(default=None, validation_alias="GATEWAY_STORAGE_URL")
    document_timeout: float = Field(default=120.0, gt=0, le=3600, validation_alias="GATEWAY_DOCUMENT_TIMEOUT")
    document_concurrency: int = Field(default=2, ge=1, le=64, validation_alias="GATEWAY_DOCUMENT_CONCURRENCY")
    # The worker's database connections (up to as many again under load, gateway/db.py); its task slots are
    # jobs/queues.py's SLOTS per priority. bench/README.md (tasks) has the measurements behind the default.
    worker_db_pool_size: int = Field(default=5, ge=1, le=100, validation_alias="GATEWAY_WORKER_DB_POOL_SIZE")
    # The external base URL: signed download links and (issue 11) the OAuth callback; without it the
    # callback's redirect URI is derived from the request that starts the connection.
    public_url: str | None = Field(default=None, validation_alias="GATEWAY_PUBLIC_URL")

    # Integrations (issue 11).
    # Client credentials and endpoint overrides of the OAuth providers, read from the environment as a
    # whole (five providers times six names); tests pass them directly.
    oauth_settings: dict[str, str] = Field(default_factory=oauth_environment, exclude=True)
    # Tokens expiring within this many seconds are refreshed by the cron pass and by the vault.
    token_refresh_margin: int = Field(default=300, ge=30, le=3600, validation_alias="GATEWAY_TOKEN_REFRESH_MARGIN")
    # The assistant (issue 12): any OpenAI-compatible Chat Completions endpoint. Unset URL: the assistant
    # is off and nothing answers. The URL is the operator's, but it still goes through the egress guard:
    # a provider on loopback or a private network (a local Ollama, vLLM) needs
    # GATEWAY_ASSISTANT_ALLOW_PRIVATE=true, which opens those ranges for the provider alone.
    assistant_url: str | None = Field(default=None, validation_alias="GATEWAY_ASSISTANT_URL")
    assistant_api_key: SecretStr | None = Field(default=None, validation_alias="GATEWAY_ASSISTANT_API_KEY")
    assistant_model: str | None = Field(default=None, validation_alias="GATEWAY_ASSISTANT_MODEL")
    # Tokens (prompt + completion, as the provider counts them) one user may spend per UTC day; 0: no limit.
    assistant_daily_tokens: int = Field(default=200_000, ge=0, validation_alias="GATEWAY_ASSISTANT_DAILY_TOKENS")
    assistant_allow_private: bool = Field(default=False, validation_alias="GATEWAY_ASSISTANT_ALLOW_PRIVATE")
    assistant_temperature: float = Field(default=0.3, ge=0, le=2, validation_alias="GATEWAY_ASSISTANT_TEMPERATURE")
    # Seconds: until the first token, between two chunks, and for a whole reply (all tool rounds).
    assistant_first_token_timeout: float = Field(
        default=30.0, gt=0, le=600, validation_alias="GATEWAY_ASSISTANT_FIRST_TOKEN_TIMEOUT"
    )
    assistant_idle_timeout: float = Field(default=30.0, gt=0, le=600, validation_alias="GATEWAY_ASSISTANT_IDLE_TIMEOUT")
    assistant_reply_timeout: float = Field(
        default=180.0, gt=0, le=1800, validation_alias="GATEWAY_ASSISTANT_REPLY_TIMEOUT"
    )
    # Prompt size: history is cut to this estimate of tokens (newest kept), the reply to max_output.
    assistant_history_tokens: int = Field(default=3000, ge=100, validation_alias="GATEWAY_ASSISTANT_HISTORY_TOKENS")
    assistant_max_output_tokens: int = Field(
        default=1024, ge=16, validation_alias="GATEWAY_ASSISTANT_MAX_OUTPUT_TOKENS"
    )
    # Replies produced at once by one worker process (sessions in parallel; one session in turn).
    assistant_concurrency: int = Field(default=8, ge=1, le=256, validation_alias="GATEWAY_ASSISTANT_CONCURRENCY")

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        import ipaddress

        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"GATEWAY_TRUSTED_PROXIES: {entry!r} is not an address or CIDR") from None
        return value

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def assistant_enabled(self) -> bool:
        return bool(self.assistant_url and self.assistant_model)

    @property
    def loopback_agents_allowed(self) -> bool:
        if self.allow_loopback_agents is None:
            return not self.is_production
        return self.allow_loopback_agents


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
