"""Integration use cases: start a connection (authorization code + PKCE), complete it at the callback,
disconnect (RFC 7009 revocation, best effort). Provider calls happen between transactions, never inside
one (habit 10); every status write goes through resolvers/integration_lifecycle.py."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from models import Integration
from models.integrations import IntegrationStatus, TokenEventKind, TokenEventOutcome
from resolvers import integration_lifecycle as lifecycle
from resolvers.integration_events import INTEGRATION_EVENTS
from resolvers.integration_vault import Vault, seal, unseal_access, unseal_refresh
from resolvers.problems import ErrorCode, Problem, Rejected
from resolvers.unit_of_work import UnitOfWork, run_unit_of_work
from services import ratelimit
from services.credentials import origin_of
from services.crypto import DecryptionError
from services.oauth import client as oauth
from services.oauth import states

log = logging.getLogger("gateway.integrations")
NOT_FOUND = Problem("input.integrationId", ErrorCode.NOT_FOUND, "No such integration.")
# Each connection attempt keeps a state in Redis for 10 minutes: a user starts at most this many per window.
CONNECT_PER_USER = ratelimit.Limit("oauth:connect", 30, 10 * 60)
MAX_PARAM_LENGTH = 2048


@dataclass(frozen=True)
class ConnectRequest:
    provider: str
    scopes: tuple[str, ...] | None
    return_to: str


def _trusted(return_to: str, allowed_origins: Sequence[str]) -> bool:
    try:
        origin = origin_of(return_to)
    except ValueError:
        return False
    allowed = set()
    for value in allowed_origins:
        try:
            allowed.add(origin_of(value))
        except ValueError:
            continue
    return origin in allowed and return_to.lower().startswith(("http://", "https://"))


async def start_connection(
    vault: Vault, user_id: uuid.UUID, request: ConnectRequest, *, allowed_origins: Sequence[str], redirect_base: str
) -> str:
    """The provider's consent URL; the state (bound to user, provider, verifier, returnTo) is kept 10 min."""
    problems: list[Problem] = []
    config = vault.registry.get(request.provider)
    if config is None:
        problems.append(Problem("input.provider", ErrorCode.NOT_FOUND, "No such provider."))
    elif not config.configured:
        problems.append(
            Problem("input.provider", ErrorCode.NOT_CONFIGURED, f"{config.spec.display_name} is not set up here.")
        )
    scopes = tuple(dict.fromkeys(request.scopes)) if request.scopes else None
    if config is not None and scopes is not None:
        for index, name in enumerate(request.scopes or ()):
            if config.scope(name) is None:
                problems.append(
                    Problem(
                        f"input.scopes.{index}",
                        ErrorCode.INVALID_SCOPE,
                        f"{config.spec.display_name} offers no scope {name[:100]!r}.",
                    )
                )
    if not _trusted(request.return_to, allowed_origins):
        problems.append(
            Problem("input.returnTo", ErrorCode.UNTRUSTED_ORIGIN, "returnTo must be a page of an allowed origin.")
        )
    if problems:
        raise Rejected(problems)
    assert config is not None
    try:
        wait = await ratelimit.take(vault.redis, CONNECT_PER_USER, str(user_id))
    except (RedisError, OSError):
        raise Rejected([Problem(None, ErrorCode.UNAVAILABLE, "Connecting is unavailable; try again.")]) from None
    if wait is not None:
        raise Rejected([Problem(None, ErrorCode.RATE_LIMITED, "Too many connection attempts.", retry_after=wait)])
    state, verifier = states.new_state(), states.new_code_verifier()
    redirect_uri = f"{redirect_base.rstrip('/')}/oauth/callback/{config.provider.value}"
    chosen = scopes or config.spec.default_scopes
    pending = states.PendingConnection(
        str(user_id), config.provider.value, verifier, redirect_uri, request.return_to, chosen
    )
    try:
        await states.remember(vault.redis, vault.box, state, pending)
    except (RedisError, OSError):
        raise Rejected([Problem(None, ErrorCode.UNAVAILABLE, "Connecting is unavailable; try again.")]) from None
    return oauth.authorization_url(
        config, redirect_uri=redirect_uri, scopes=chosen, state=state, code_verifier=verifier
    )


class CallbackError(StrEnum):
    ACCESS_DENIED = "access_denied"
    INVALID_STATE = "invalid_state"
    EXCHANGE_FAILED = "exchange_failed"


@dataclass(frozen=True)
class CallbackOutcome:
    return_to: str | None  # None: nowhere known to send the browser (invalid_state)
    integration: Integration | None = None
    error: CallbackError | None = None


def _bounded(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    return value if value is not None and 0 < len(value) <= MAX_PARAM_LENGTH else None


async def complete_connection(vault: Vault, provider: str, params: Mapping[str, str]) -> CallbackOutcome:
    """The provider sent the browser back: take the state once, exchange the code, read the identity,
    store the tokens sealed. Nothing is stored unless every step succeeded."""
    try:
        pending = await states.take(vault.redis, vault.box, params.get("state"))
    except (RedisError, OSError):
        pending = None
    if pending is None or pending.provider != provider:
        return CallbackOutcome(None, error=CallbackError.INVALID_STATE)
    back = pending.return_to
    error = _bounded(params, "error")
    if error is not None:
        denied = error == "access_denied"
        return CallbackOutcome(back, error=CallbackError.ACCESS_DENIED if denied else CallbackError.EXCHANGE_FAILED)
    code = _bounded(params, "code")
    config = vault.registry.get(provider)
    if code is None or config is None or not config.configured:
        return CallbackOutcome(back, error=CallbackError.EXCHANGE_FAILED)
    try:
        tokens = await oauth.exchange_code(
            config, vault.policy, code=code, redirect_uri=pending.redirect_uri, code_verifier=pending.code_verifier
        )
        identity = await oauth.fetch_identity(config, vault.policy, access_token=tokens.access_token)
    except (oauth.OAuthRefused, oauth.ProviderUnavailable) as failure:
        log.info("connecting %s failed: %s", provider, failure)
        return CallbackOutcome(back, error=CallbackError.EXCHANGE_FAILED)
    granted = [name for name in (tokens.scopes or pending.scopes) if config.scope(name) is not None]
    user_id = uuid.UUID(pending.user_id)
    meta = {
        key: value
        for key, value in {
            "email": identity.email,
            "displayName": identity.display_name,
            "avatar": identity.avatar,
            "organizationId": identity.organization_id,
        }.items()
        if value
    }

    async def store(uow: UnitOfWork) -> Integration:
        integration = await lifecycle.connect(
            uow.db,
            user_id=user_id,
            provider=provider,
            tokens=seal(vault.box, user_id, provider, tokens),
            scopes=granted,
            capabilities=config.capabilities(granted),
            provider_user_id=identity.provider_user_id,
            identity=meta,
        )
        uow.after_commit(lambda: vault.forget(integration.id))
        INTEGRATION_EVENTS.publish_after_commit(uow, integration)
        return integration

    integration = await run_unit_of_work(vault.sessionmaker, vault.events, vault.queues, store)
    return CallbackOutcome(back, integration=integration)


async def _owned(db: AsyncSession, user_id: uuid.UUID, integration_id: uuid.UUID | None) -> Integration:
    row = await db.get(Integration, integration_id, populate_existing=True) if integration_id else None
    if row is None or row.user_id != user_id or row.deleted_at is not None:
        raise Rejected([NOT_FOUND])
    return row


async def _revoke(vault: Vault, row: Integration) -> tuple[TokenEventOutcome, str | None, int]:
    """Best effort at the provider: the refresh token (which takes the access token with it), else the
    access token."""
    config = vault.registry.get(row.provider)
    if config is None or not config.configured or config.spec.revoke_url is None:
        return TokenEventOutcome.UNSUPPORTED, None, 0
    started = time.monotonic()
    try:
        refresh = unseal_refresh(vault.box, row)
        token, hint = (refresh, "refresh_token") if refresh else (unseal_access(vault.box, row), "access_token")
        await oauth.revoke(config, vault.policy, token=token, hint=hint)
        outcome, code = TokenEventOutcome.OK, None
    except (DecryptionError, ValueError, KeyError):
        outcome, code = TokenEventOutcome.REFUSED, "undecryptable"
    except oauth.OAuthRefused as refused:
        outcome, code = TokenEventOutcome.REFUSED, refused.code
    except oauth.ProviderUnavailable as unavailable:
        outcome, code = TokenEventOutcome.UNAVAILABLE, str(unavailable)[:64]
    return outcome, code, int((time.monotonic() - started) * 1000)


async def disconnect(
    uow: UnitOfWork, vault: Vault, user_id: uuid.UUID, integration_id: uuid.UUID | None
) -> Integration:
    """Revoke at the provider (outcome recorded), empty the tokens, DISCONNECTED with deletedAt. The
    provider is called with the transaction released: read, release, revoke, then the conditional move."""
    row = await _owned(uow.db, user_id, integration_id)
    await uow.release()
    outcome, code, took = await _revoke(vault, row)
    moved = await lifecycle.disconnect(uow.db, row.id, owner=user_id)
    if moved is None:
        current = await _owned(uow.db, user_id, row.id)
        raise Rejected(
            [Problem("input.integrationId", ErrorCode.INVALID_STATE, f"The integration is {current.status}.")]
        )
    await lifecycle.record(uow.db, row.id, TokenEventKind.REVOKE, outcome, error_code=code, duration_ms=took)
    uow.after_commit(lambda: vault.forget(moved.id))
    INTEGRATION_EVENTS.publish_after_commit(uow, moved)
    return moved


def listed_statuses(statuses: Sequence[str]) -> bool:
    """Whether a filter asks for disconnected rows (soft-deleted ones are listed only then)."""
    return IntegrationStatus.DISCONNECTED in statuses
