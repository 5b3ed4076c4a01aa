"""The token vault: one server-side way to get a valid access token for an integration, refreshed shortly
before it expires, single-flight across processes.

Invariants:
- tokens are stored sealed (AES-GCM, services/crypto.py) with associated data naming the user, the provider
  and the part, so a ciphertext copied to another row or column does not open; the Redis cache holds
  sealed values too, with TTL = the token's remaining life less the refresh margin (the seed's cache rule);
- one refresh per integration at a time across every process: a Redis lock (SET NX PX, released only by
  its holder); the others wait for it and read what it stored. Behind the lock, the stored refresh token
  is compared-and-set (resolvers/integration_lifecycle.py), so even a lock that timed out cannot let an
  older refresh overwrite a newer one;
- the provider is called outside any transaction; the outcome is written after, with its history row;
- `invalid_grant` expires the integration; passing failures back off and set ERROR after repeating.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from models import Integration
from models.integrations import IntegrationStatus, TokenEventKind, TokenEventOutcome
from resolvers import integration_lifecycle as lifecycle
from resolvers.integration_events import INTEGRATION_EVENTS
from resolvers.unit_of_work import UnitOfWork, run_unit_of_work
from services.crypto import DecryptionError, SecretBox
from services.egress import EgressPolicy
from services.events import EventHub
from services.oauth import client as oauth
from services.oauth.providers import Registry
from services.resources import Resources
from services.task_queues import TaskQueues

log = logging.getLogger("gateway.integrations.vault")
LOCK_MS = 30_000  # longer than a refresh may take (its timeout is 10 s)
WAIT_SECONDS = 15.0
NO_EXPIRY_CACHE_SECONDS = 3600
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class TokenUnavailable(Exception):
    """No usable token; the message is safe to show (it names the provider, never a token)."""


def _context(user_id: uuid.UUID, provider: str, part: str) -> str:
    return f"integration:{user_id}:{provider}:{part}"


def seal(box: SecretBox, user_id: uuid.UUID, provider: str, tokens: oauth.TokenSet) -> lifecycle.SealedTokens:
    access = json.dumps({"access_token": tokens.access_token, "token_type": tokens.token_type})
    return lifecycle.SealedTokens(
        access=box.encrypt(access, context=_context(user_id, provider, "access")),
        refresh=(
            box.encrypt(tokens.refresh_token, context=_context(user_id, provider, "refresh"))
            if tokens.refresh_token
            else None
        ),
        expires_at=tokens.expires_at,
    )


def unseal_access(box: SecretBox, row: Integration) -> str:
    stored = json.loads(box.decrypt(row.encrypted_tokens, context=_context(row.user_id, row.provider, "access")))
    return str(stored["access_token"])


def unseal_refresh(box: SecretBox, row: Integration) -> str | None:
    if not row.refresh_token_encrypted:
        return None
    return box.decrypt(row.refresh_token_encrypted, context=_context(row.user_id, row.provider, "refresh"))


def reseal(box: SecretBox, row: Integration) -> tuple[str, str | None]:
    """The row's ciphertexts under the newest key (key rotation)."""
    access = box.decrypt(row.encrypted_tokens, context=_context(row.user_id, row.provider, "access"))
    refresh = unseal_refresh(box, row)
    return (
        box.encrypt(access, context=_context(row.user_id, row.provider, "access")),
        box.encrypt(refresh, context=_context(row.user_id, row.provider, "refresh")) if refresh else None,
    )


@dataclass(frozen=True)
class LentToken:
    integration_id: uuid.UUID
    provider: str
    access_token: str = field(repr=False)
    expires_at: datetime | None
    scopes: tuple[str, ...]


@dataclass
class RefreshReport:
    refreshed: int = 0
    expired: int = 0
    failed: int = 0


def _describe(provider: str, status: str) -> str:
    if status == IntegrationStatus.EXPIRED:
        return f"The {provider} integration has expired; reconnect it."
    if status == IntegrationStatus.DISCONNECTED:
        return f"The {provider} integration is disconnected; connect it again."
    return f"The {provider} integration cannot give a token right now ({status})."


@dataclass
class Vault:
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis
    box: SecretBox
    policy: EgressPolicy
    registry: Registry
    events: EventHub
    queues: TaskQueues
    margin_seconds: int = 300

    @classmethod
    def of(cls, resources: Resources) -> Vault:
        return cls(
            sessionmaker=resources.sessionmaker,
            redis=resources.redis,
            box=resources.box,
            policy=resources.policy,
            registry=resources.registry,
            events=resources.events,
            queues=resources.queues,
            margin_seconds=resources.settings.token_refresh_margin,
        )

    # -- reading ---------------------------------------------------------------------------------------
    async def _row(self, integration_id: uuid.UUID) -> Integration | None:
        async with self.sessionmaker() as db:
            return await db.get(Integration, integration_id)

    def _cache_key(self, integration_id: uuid.UUID) -> str:
        return f"vault:access:{integration_id}"

    async def _cached(self, integration_id: uuid.UUID) -> LentToken | None:
        """A hit needs no database read: every move away from a live state (expire, error, disconnect,
        reconnect, refresh) drops or replaces the entry after its commit, and `token` checks the row again
        after filling it (a disconnect landing in between cannot leave a stale entry behind)."""
        try:
            raw = await self.redis.get(self._cache_key(integration_id))
            if raw is None:
                return None
            entry = json.loads(raw)
            access = self.box.decrypt(entry["sealed"], context=f"vault:{integration_id}:{entry['provider']}")
            expires_at = datetime.fromisoformat(entry["expiresAt"]) if entry.get("expiresAt") else None
            return LentToken(integration_id, str(entry["provider"]), access, expires_at, tuple(entry["scopes"]))
        except (RedisError, OSError, DecryptionError, ValueError, KeyError, TypeError):
            return None  # a cache that cannot answer (or an entry under a retired key) is a miss

    async def _cache(self, row: Integration, access: str) -> None:
        if row.token_expires_at is None:
            ttl = NO_EXPIRY_CACHE_SECONDS
        else:
            ttl = int((row.token_expires_at - datetime.now(UTC)).total_seconds()) - self.margin_seconds
        if ttl <= 0:
            return
        entry = {
            "sealed": self.box.encrypt(access, context=f"vault:{row.id}:{row.provider}"),
            "provider": row.provider,
            "expiresAt": row.token_expires_at.isoformat() if row.token_expires_at else None,
            "scopes": list(row.scopes or ()),
        }
        try:
            await self.redis.set(self._cache_key(row.id), json.dumps(entry), ex=ttl)
        except (RedisError, OSError):
            log.warning("vault cache unavailable")

    async def forget(self, integration_id: uuid.UUID) -> None:
        try:
            await self.redis.delete(self._cache_key(integration_id))
        except (RedisError, OSError):
            log.warning("vault cache unavailable; the entry expires by itself")

    def _due(self, row: Integration, *, honour_backoff: bool) -> bool:
        if row.token_expires_at is None or not row.refresh_token_encrypted:
            return False
        if honour_backoff:
            next_at = (row.meta or {}).get("nextRefreshAt")
            if next_at and datetime.fromisoformat(str(next_at)) > datetime.now(UTC):
                return False
        return row.token_expires_at - datetime.now(UTC) <= timedelta(seconds=self.margin_seconds)

    async def token(self, integration_id: uuid.UUID) -> LentToken:
        """A valid access token for the integration, refreshed first when it is about to expire."""
        hit = await self._cached(integration_id)
        if hit is not None:
            return hit
        row = await self._row(integration_id)
        if row is not None and row.status in lifecycle.LIVE and self._due(row, honour_backoff=True):
            row = await self.refresh(row.id) or row
        if row is None or row.status not in lifecycle.LIVE:
            raise TokenUnavailable(_describe(row.provider if row else "integration", row.status if row else "gone"))
        if row.token_expires_at is not None and row.token_expires_at <= datetime.now(UTC):
            raise TokenUnavailable(_describe(row.provider, "its token expired and could not be refreshed"))
        try:
            access = unseal_access(self.box, row)
        except (DecryptionError, ValueError, KeyError):
            raise TokenUnavailable(f"The {row.provider} integration's stored token cannot be read.") from None
        await self._cache(row, access)
        current = await self._row(integration_id)
        if current is None or current.status not in lifecycle.LIVE:
            await self.forget(integration_id)
            raise TokenUnavailable(_describe(row.provider, current.status if current else "gone"))
        return LentToken(row.id, row.provider, access, row.token_expires_at, tuple(row.scopes or ()))

    # -- refreshing ------------------------------------------------------------------------------------
    async def refresh(self, integration_id: uuid.UUID, *, force: bool = False) -> Integration | None:
        """Refresh once across every process; the others wait and answer what it stored."""
        lock, nonce = f"vault:refresh-lock:{integration_id}", secrets.token_hex(8)
        if not await self.redis.set(lock, nonce, nx=True, px=LOCK_MS):
            deadline = time.monotonic() + WAIT_SECONDS
            while await self.redis.exists(lock) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            return await self._row(integration_id)
        try:
            row = await self._row(integration_id)  # read behind the lock: another may have just refreshed
            if row is None or row.status not in lifecycle.LIVE:
                return row
            if not force and not self._due(row, honour_backoff=False):
                return row
            return await self._refresh_row(row)
        finally:
            try:
                await self.redis.eval(_RELEASE, 1, lock, nonce)  # type: ignore[misc]
            except (RedisError, OSError):
                log.warning("refresh lock not released; it expires in %d ms", LOCK_MS)

    async def _refresh_row(self, row: Integration) -> Integration | None:
        config = self.registry.get(row.provider)
        started = time.monotonic()
        outcome, code = TokenEventOutcome.OK, None
        try:
            refresh_token = unseal_refresh(self.box, row)
            if config is None or not config.configured or refresh_token is None:
                raise oauth.ProviderUnavailable("not_configured" if refresh_token else "no_refresh_token")
            tokens = await oauth.refresh(config, self.policy, refresh_token=refresh_token)
        except DecryptionError:
            outcome, code = TokenEventOutcome.REFUSED, "undecryptable"
        except oauth.OAuthRefused as refused:
            outcome, code = TokenEventOutcome.REFUSED, refused.code
        except oauth.ProviderUnavailable as unavailable:
            outcome, code = TokenEventOutcome.UNAVAILABLE, str(unavailable)[:64]
        took = int((time.monotonic() - started) * 1000)

        async def write(uow: UnitOfWork) -> Integration | None:
            moved: Integration | None
            if outcome is TokenEventOutcome.OK:
                scopes = list(tokens.scopes) if tokens.scopes else None
                sealed = seal(self.box, row.user_id, row.provider, tokens)
                moved = await lifecycle.refreshed(
                    uow.db, row.id, used_refresh=row.refresh_token_encrypted, tokens=sealed, scopes=scopes
                )
            elif outcome is TokenEventOutcome.REFUSED:
                moved = await lifecycle.expire(
                    uow.db, row, code or "invalid_grant", "The provider refused the refresh."
                )
            else:
                failures = int((row.meta or {}).get("refreshFailures") or 0)
                next_at = datetime.now(UTC) + timedelta(seconds=min(30 * 2**failures, 1800))
                moved = await lifecycle.note_failure(
                    uow.db, row, code or "unavailable", "The provider could not be reached.", next_attempt=next_at
                )
            await lifecycle.record(uow.db, row.id, TokenEventKind.REFRESH, outcome, error_code=code, duration_ms=took)
            if moved is not None and moved.status != row.status:
                INTEGRATION_EVENTS.publish_after_commit(uow, moved)
            return moved

        moved = await run_unit_of_work(self.sessionmaker, self.events, self.queues, write)
        if moved is None:
            return await self._row(row.id)
        if outcome is TokenEventOutcome.OK:
            await self._cache(moved, tokens.access_token)
        else:
            await self.forget(row.id)
            log.info("integration %s refresh failed: %s", row.id, code)
        return moved

    async def refresh_due(self, *, limit: int = 200, concurrency: int = 4) -> RefreshReport:
        """One pass: refresh every live integration whose token expires within the margin (the cron's job
        and `gateway refresh-tokens`)."""
        async with self.sessionmaker() as db:
            due = (
                await db.execute(
                    select(col(Integration.id))
                    .where(
                        col(Integration.status).in_(tuple(lifecycle.LIVE)),
                        col(Integration.refresh_token_encrypted).is_not(None),
                        col(Integration.token_expires_at)
                        < text("now() + make_interval(secs => :margin)").bindparams(margin=self.margin_seconds),
                        text("coalesce((integrations.metadata->>'nextRefreshAt')::timestamptz, '-infinity') < now()"),
                    )
                    .order_by(col(Integration.token_expires_at))
                    .limit(limit)
                )
            ).scalars()
            ids = list(due)
        report = RefreshReport()
        gate = asyncio.Semaphore(concurrency)

        async def one(integration_id: uuid.UUID) -> None:
            async with gate:
                try:
                    moved = await self.refresh(integration_id)
                except Exception:
                    log.exception("refreshing integration %s failed", integration_id)
                    report.failed += 1
                    return
            if moved is None or moved.status == IntegrationStatus.ERROR:
                report.failed += 1
            elif moved.status == IntegrationStatus.EXPIRED:
                report.expired += 1
            elif (moved.meta or {}).get("refreshFailures"):
                report.failed += 1
            else:
                report.refreshed += 1

        await asyncio.gather(*(one(pk) for pk in ids))
        return report

    async def lend(self, user_id: uuid.UUID, integration_ids: list[uuid.UUID]) -> dict[str, dict[str, Any]]:
        """Tokens for a task's tool call, by provider: `{gmail: {accessToken, expiresAt, scopes}}`."""
        lent: dict[str, dict[str, Any]] = {}
        async with self.sessionmaker() as db:
            owners = dict(
                (
                    await db.execute(
                        select(col(Integration.id), col(Integration.user_id)).where(
                            col(Integration.id).in_(integration_ids)
                        )
                    )
                ).all()
            )
        for integration_id in integration_ids:
            if owners.get(integration_id) != user_id:
                raise TokenUnavailable("An integration the task uses no longer exists.")
            token = await self.token(integration_id)
            lent[token.provider] = {
                "accessToken": token.access_token,
                "tokenType": "Bearer",
                "expiresAt": token.expires_at.isoformat() if token.expires_at else None,
                "scopes": list(token.scopes),
            }
        return lent
