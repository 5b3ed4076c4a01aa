"""Credentials bound to an origin. An agent's key is registered for the origin (scheme, host, port) of its
endpoint; the header is attached only to requests to that origin, whatever URL a caller passes (a health
check URL elsewhere) or a peer's answer leads to. The rule lives in the HTTP client, so no code path
can forget it."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx2

from services.egress import EgressPolicy

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str:
    """`scheme://host:port`, lower-cased, the default port spelled out (so `https://A.example` and
    `https://a.example:443/x` are one origin). Raises ValueError for a URL without a valid host or port."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if not scheme or not host:
        raise ValueError("a URL with a scheme and a host is needed")
    port = parts.port or DEFAULT_PORTS.get(scheme)
    if port is None:
        raise ValueError("no port for this scheme")
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"


def same_origin(url: str, origin: str) -> bool:
    try:
        return origin_of(url) == origin
    except ValueError:
        return False


class OriginBoundHeaders(httpx2.Auth):
    """Adds the credential headers to requests to `origin`, and to no other."""

    def __init__(self, origin: str, headers: dict[str, str]) -> None:
        self.origin = origin
        self.headers = dict(headers)

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        if self.headers and same_origin(str(request.url), self.origin):
            request.headers.update(self.headers)
        yield request


@dataclass
class _CachedToken:
    value: str
    expires_at: float  # monotonic


# Client-credentials tokens per (token URL, client, scope, secret digest), shared by every call of the process.
_TOKENS: dict[tuple[str, str, str, str], _CachedToken] = {}
_LOCKS: dict[tuple[str, str, str, str], asyncio.Lock] = {}
EARLY_RENEWAL_SECONDS = 30.0


class ClientCredentialsAuth(OriginBoundHeaders):
    """An agent authenticated with `oauth`: an access token from the client-credentials grant (authlib),
    cached until shortly before it expires, sent as a Bearer token to the agent's origin only. A 401 from
    the agent drops the cached token and tries once more with a new one."""

    requires_request_body = True  # a request answered 401 is sent again

    def __init__(
        self,
        origin: str,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str | None,
        policy: EgressPolicy,
    ) -> None:
        super().__init__(origin, {})
        digest = hashlib.sha256(client_secret.encode()).hexdigest()[:16]
        self.key = (token_url, client_id, scope or "", digest)
        self.reach = self.key  # what a call depends on (resolvers/agent_links.py `reach_of`)
        self._secret = client_secret
        self._policy = policy

    async def _token(self, *, renew: bool = False) -> str:
        lock = _LOCKS.setdefault(self.key, asyncio.Lock())
        async with lock:
            cached = _TOKENS.get(self.key)
            if cached is not None and not renew and cached.expires_at > time.monotonic():
                return cached.value
            from services.oauth.client import client_credentials

            token_url, client_id, scope, _ = self.key
            tokens = await client_credentials(
                token_url, self._policy, client_id=client_id, client_secret=self._secret, scope=scope or None
            )
            life = tokens.remaining()
            seconds = life.total_seconds() if life is not None else 3600.0
            _TOKENS[self.key] = _CachedToken(tokens.access_token, time.monotonic() + seconds - EARLY_RENEWAL_SECONDS)
            return tokens.access_token

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        raise RuntimeError("client-credentials authentication is asynchronous only")

    async def async_auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        if not same_origin(str(request.url), self.origin):
            yield request
            return
        request.headers["Authorization"] = f"Bearer {await self._token()}"
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = f"Bearer {await self._token(renew=True)}"
            yield request
