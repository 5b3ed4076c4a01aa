"""The clients a process opens once from its settings and shares for its whole life: the web process and
the worker build the same `Resources` (the worker with a smaller pool), so a new client is added here once."""

from __future__ import annotations

from dataclasses import dataclass, field

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway.db import create_engine, session_factory
from gateway.settings import Settings
from services import tracing
from services.addresses import TrustedProxies
from services.assistant import Provider, ProviderSettings
from services.crypto import SecretBox, dev_secret_box
from services.document_cache import DocumentCache
from services.document_queue import DocumentQueue
from services.egress import EgressPolicy
from services.events import EventHub
from services.mailer import Mailer
from services.mcp_pool import AgentSessions
from services.oauth.providers import Registry
from services.revocations import RevocationWatch
from services.storage import Storage
from services.task_queues import TaskQueues
from services.tokens import TokenKeys, dev_key_set, load_key_set


@dataclass
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis
    keys: TokenKeys
    mailer: Mailer
    events: EventHub
    box: SecretBox
    policy: EgressPolicy
    queues: TaskQueues
    proxies: TrustedProxies
    # Documents (issue 10): where originals live, their processing queue, their metadata cache.
    storage: Storage
    document_queue: DocumentQueue
    document_cache: DocumentCache
    registry: Registry  # the OAuth providers as configured here (issue 11)
    revocations: RevocationWatch  # which sign-ins have ended, remembered per process (HTTP requests)
    assistant: Provider | None = None  # None: GATEWAY_ASSISTANT_URL unset, the assistant is off
    # One MCP session per agent for the tool calls of tasks (issue 14): opened on first use, so a process
    # that calls no tool (the web process) holds none.
    agent_sessions: AgentSessions = field(default_factory=AgentSessions)


def secret_box(settings: Settings) -> SecretBox:
    if settings.encryption_keys:
        return SecretBox.from_setting(settings.encryption_keys)
    if settings.is_production:
        raise SystemExit("GATEWAY_ENCRYPTION_KEYS is required in production")
    return dev_secret_box(settings.data_dir)


def egress_policy(settings: Settings) -> EgressPolicy:
    return EgressPolicy(allow_loopback=settings.loopback_agents_allowed, allow_private=settings.allow_private_agents)


def oauth_registry(settings: Settings) -> Registry:
    return Registry.from_settings(settings.oauth_settings)


def assistant_provider(settings: Settings) -> Provider | None:
    """The provider the settings name, or None: without GATEWAY_ASSISTANT_URL and _MODEL the assistant is off."""
    if not settings.assistant_url or not settings.assistant_model:
        return None
    allowed = settings.assistant_allow_private
    key = settings.assistant_api_key
    return Provider(
        ProviderSettings(
            url=settings.assistant_url.rstrip("/"),
            model=settings.assistant_model,
            api_key=key.get_secret_value() if key is not None else None,
            temperature=settings.assistant_temperature,
            first_token_timeout=settings.assistant_first_token_timeout,
            idle_timeout=settings.assistant_idle_timeout,
            max_output_tokens=settings.assistant_max_output_tokens,
        ),
        EgressPolicy(allow_loopback=allowed, allow_private=allowed),
    )


def token_keys(settings: Settings) -> TokenKeys:
    if settings.jwt_private_keys:
        key_set = load_key_set(settings.jwt_private_keys)
    elif settings.is_production:
        raise SystemExit("GATEWAY_JWT_PRIVATE_KEYS is required in production")
    else:
        key_set = dev_key_set(settings.data_dir)
    return TokenKeys(key_set, issuer=settings.jwt_issuer, ttl_seconds=settings.access_token_ttl)


def mailer(settings: Settings) -> Mailer:
    if not settings.smtp_url and settings.is_production:
        raise SystemExit(
            "GATEWAY_SMTP_URL is required in production: without it, verification and "
            "password-reset mails are only written to files on the server "
            "(e.g. GATEWAY_SMTP_URL=smtp+starttls://user:password@smtp.example.com:587)"
        )
    return Mailer(smtp_url=settings.smtp_url, outbox=settings.data_dir / "outbox")


async def open_resources(
    settings: Settings,
    *,
    database_url: str,
    redis_url: str,
    pool_size: int | None = None,
    redis_timeout: float = 2.0,
) -> Resources:
    """Nothing connects yet: the pool, Redis and the queues connect on first use."""
    engine = create_engine(database_url, pool_size=pool_size or settings.db_pool_size)
    tracing.instrument(engine)
    redis = Redis.from_url(redis_url, decode_responses=True, socket_timeout=redis_timeout, socket_connect_timeout=2)
    events = EventHub(redis, queue_size=settings.ws_queue_size)
    return Resources(
        settings=settings,
        engine=engine,
        sessionmaker=session_factory(engine),
        redis=redis,
        keys=token_keys(settings),
        mailer=mailer(settings),
        events=events,
        box=secret_box(settings),
        policy=egress_policy(settings),
        queues=TaskQueues(redis_url),
        proxies=TrustedProxies(settings.trusted_proxies),
        storage=Storage.from_setting(settings.storage_url, settings.data_dir),
        document_queue=DocumentQueue(redis_url, extraction_seconds=settings.document_timeout),
        document_cache=DocumentCache(redis),
        registry=oauth_registry(settings),
        revocations=RevocationWatch(redis, events),
        assistant=assistant_provider(settings),
    )


async def close_resources(resources: Resources) -> None:
    await resources.agent_sessions.close()
    if resources.assistant is not None:
        await resources.assistant.close()
    await resources.revocations.close()
    await resources.events.close()
    await resources.queues.disconnect()
    await resources.document_queue.disconnect()
    await resources.redis.aclose()
    await resources.engine.dispose()
