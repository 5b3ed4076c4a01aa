"""Talking OAuth 2.0 to a provider with authlib's async client: the authorization URL (PKCE S256), the
code exchange, refresh, RFC 7009 revocation, user info, and the client-credentials grant.

Invariants: every request goes through the egress guard (services/egress.py) with a bounded timeout and
no redirects followed; a provider's answer becomes either a `TokenSet`, an `OAuthRefused` carrying the
provider's error code (`invalid_grant`, `access_denied`...), or `ProviderUnavailable` (network, timeout,
5xx, unreadable answer). Tokens never appear in an exception's text or a `repr`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from opentelemetry.trace import StatusCode

from services import tracing
from services.egress import EgressPolicy, EgressRefused, GuardedTransport
from services.oauth.providers import ProviderConfig

DEFAULT_TIMEOUT_SECONDS = 10.0
MAX_CODE_LENGTH = 2048
# The identity answer is read for a handful of short fields; larger values are cut.
MAX_IDENTITY_FIELD = 255


class OAuthRefused(Exception):
    """The provider answered with an OAuth error (RFC 6749 section 5.2)."""

    def __init__(self, code: str, description: str | None = None) -> None:
        # The provider's words: only the code's safe characters are kept (it reaches logs and the history),
        # and the description is never logged.
        self.code = re.sub(r"[^A-Za-z0-9_.-]", "", code or "")[:64] or "invalid_request"
        self.description = (description or "")[:300]
        super().__init__(f"the provider refused: {self.code}")


class ProviderUnavailable(Exception):
    """The provider could not be reached or gave no usable answer."""


@dataclass(frozen=True)
class TokenSet:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None
    scopes: tuple[str, ...] | None = None  # as granted; None when the answer does not say
    token_type: str = "Bearer"

    @classmethod
    def from_answer(cls, token: Mapping[str, Any], *, now: float | None = None) -> TokenSet:
        access = token.get("access_token")
        if not isinstance(access, str) or not access:
            raise ProviderUnavailable("the token answer has no access_token")
        expires_at: datetime | None = None
        if isinstance(token.get("expires_at"), int | float):
            expires_at = datetime.fromtimestamp(float(token["expires_at"]), UTC)
        elif isinstance(token.get("expires_in"), int | float | str):
            try:
                expires_at = datetime.fromtimestamp((now or time.time()) + float(token["expires_in"]), UTC)
            except ValueError:
                expires_at = None
        scope = token.get("scope")
        scopes = tuple(part for part in scope.replace(",", " ").split() if part) if isinstance(scope, str) else None
        refresh = token.get("refresh_token")
        return cls(
            access_token=access,
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            expires_at=expires_at,
            scopes=scopes,
            token_type=str(token.get("token_type") or "Bearer"),
        )

    def remaining(self, now: datetime | None = None) -> timedelta | None:
        if self.expires_at is None:
            return None
        return self.expires_at - (now or datetime.now(UTC))


@dataclass(frozen=True)
class Identity:
    provider_user_id: str | None
    email: str | None = None
    display_name: str | None = None
    avatar: str | None = None
    organization_id: str | None = None


def _client(config: ProviderConfig, policy: EgressPolicy, *, timeout: float, **options: Any) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=config.client_id,
        client_secret=config.client_secret,
        token_endpoint_auth_method=config.spec.token_auth_method,
        revocation_endpoint_auth_method=config.spec.token_auth_method,
        code_challenge_method="S256",
        transport=GuardedTransport(policy),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        **options,
    )


def authorization_url(
    config: ProviderConfig, *, redirect_uri: str, scopes: Iterable[str], state: str, code_verifier: str
) -> str:
    """The provider's consent page for this request (no network call)."""
    client = AsyncOAuth2Client(
        client_id=config.client_id, code_challenge_method="S256", scope=" ".join(scopes), redirect_uri=redirect_uri
    )
    url, _ = client.create_authorization_url(
        config.spec.authorize_url, state=state, code_verifier=code_verifier, **dict(config.spec.authorize_params)
    )
    return str(url)


async def _guarded(work: Any, operation: str) -> Any:
    """Run one exchange in a span of its own (no URL, no token), turning every failure into OAuthRefused
    or ProviderUnavailable."""
    with tracing.span(f"oauth {operation}", **{"oauth.operation": operation}) as span:
        try:
            return await work()
        except OAuthError as error:
            span.set_status(StatusCode.ERROR, "refused")
            raise OAuthRefused(str(error.error or ""), error.description) from None
        except EgressRefused as error:
            span.set_status(StatusCode.ERROR, "egress refused")
            raise ProviderUnavailable(f"refused destination: {error}") from None
        except httpx2.HTTPStatusError as error:
            span.set_status(StatusCode.ERROR, f"HTTP {error.response.status_code}")
            raise ProviderUnavailable(f"HTTP {error.response.status_code}") from None
        except httpx2.TimeoutException:
            span.set_status(StatusCode.ERROR, "timeout")
            raise ProviderUnavailable("no answer in time") from None
        except (httpx2.HTTPError, ValueError, KeyError, TypeError) as error:
            span.set_status(StatusCode.ERROR, type(error).__name__)
            raise ProviderUnavailable(type(error).__name__) from None


async def exchange_code(
    config: ProviderConfig,
    policy: EgressPolicy,
    *,
    code: str,
    redirect_uri: str,
    code_verifier: str,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> TokenSet:
    async def work() -> TokenSet:
        async with _client(config, policy, timeout=timeout, redirect_uri=redirect_uri) as client:
            token = await client.fetch_token(
                config.spec.token_url,
                grant_type="authorization_code",
                code=code,
                code_verifier=code_verifier,
                redirect_uri=redirect_uri,
            )
            return TokenSet.from_answer(token)

    return await _guarded(work, "exchange_code")  # type: ignore[no-any-return]


async def refresh(
    config: ProviderConfig, policy: EgressPolicy, *, refresh_token: str, timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> TokenSet:
    """A fresh token set. Providers that do not rotate answer without a refresh token: the old one stays."""

    async def work() -> TokenSet:
        async with _client(config, policy, timeout=timeout) as client:
            token = await client.refresh_token(config.spec.token_url, refresh_token=refresh_token)
            answered = TokenSet.from_answer(token)
            if answered.refresh_token is None:
                answered = TokenSet(
                    access_token=answered.access_token,
                    refresh_token=refresh_token,
                    expires_at=answered.expires_at,
                    scopes=answered.scopes,
                    token_type=answered.token_type,
                )
            return answered

    return await _guarded(work, "refresh")  # type: ignore[no-any-return]


async def revoke(
    config: ProviderConfig,
    policy: EgressPolicy,
    *,
    token: str,
    hint: str = "refresh_token",
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> None:
    """RFC 7009: client-authenticated; a 200 answers success (also for a token already invalid)."""
    url = config.spec.revoke_url
    if url is None:
        raise ProviderUnavailable("the provider offers no revocation")

    async def work() -> None:
        async with _client(config, policy, timeout=timeout) as client:
            response = await client.revoke_token(url, token=token, token_type_hint=hint)
            if response.status_code >= 400:
                try:
                    body = response.json()
                except ValueError:
                    body = {}
                if isinstance(body, dict) and isinstance(body.get("error"), str):
                    raise OAuthRefused(body["error"], body.get("error_description"))
                response.raise_for_status()

    await _guarded(work, "revoke")


def _text(value: Any) -> str | None:
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip()[:MAX_IDENTITY_FIELD]
    return None


def identity_of(answer: Mapping[str, Any]) -> Identity:
    """The account behind a token, from an OpenID Connect user-info answer or a provider's own shape."""
    user_id = next(
        (_text(answer.get(key)) for key in ("sub", "id", "user_id", "portalId") if _text(answer.get(key))), None
    )
    name = _text(answer.get("name")) or " ".join(
        part for part in (_text(answer.get("given_name")), _text(answer.get("family_name"))) if part
    )
    organization = next(
        (
            _text(answer.get(key))
            for key in ("hd", "tid", "https://slack.com/team_id", "portalId", "organization_id")
            if _text(answer.get(key))
        ),
        None,
    )
    return Identity(
        provider_user_id=user_id,
        email=_text(answer.get("email")),
        display_name=name or None,
        avatar=_text(answer.get("picture")),
        organization_id=organization,
    )


async def fetch_identity(
    config: ProviderConfig, policy: EgressPolicy, *, access_token: str, timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> Identity:
    async def work() -> Identity:
        async with _client(config, policy, timeout=timeout, token={"access_token": access_token}) as client:
            response = await client.get(config.spec.userinfo_url)
            response.raise_for_status()
            answer = response.json()
            if not isinstance(answer, dict):
                raise ValueError("the user-info answer is not an object")
            return identity_of(answer)

    return await _guarded(work, "userinfo")  # type: ignore[no-any-return]


async def client_credentials(
    token_url: str,
    policy: EgressPolicy,
    *,
    client_id: str,
    client_secret: str,
    scope: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> TokenSet:
    """RFC 6749 section 4.4: a token for the client itself (agents authenticated with `oauth`)."""

    async def work() -> TokenSet:
        async with AsyncOAuth2Client(
            client_id=client_id,
            client_secret=client_secret,
            token_endpoint_auth_method="client_secret_post",
            scope=scope or None,
            transport=GuardedTransport(policy),
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
        ) as client:
            token = await client.fetch_token(token_url, grant_type="client_credentials")
            return TokenSet.from_answer(token)

    return await _guarded(work, "client_credentials")  # type: ignore[no-any-return]
