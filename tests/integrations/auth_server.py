"""A real OAuth 2.0 authorization server on loopback, written to RFC 6749 (authorization code, refresh,
client credentials), RFC 7636 (PKCE S256 only) and RFC 7009 (revocation), with an OpenID-style user-info
endpoint. It stands in for Gmail, Google Calendar, HubSpot, Outlook and Slack in the tests.

Switches on `AuthState` make it misbehave: `deny` (the user refuses consent: access_denied), `invalid_grant`
(every refresh token is refused), `fail_token` (the token endpoint answers 500), `fail_revoke` (revocation
answers 503), `delay` (every answer waits).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.live import free_port

CLIENT_ID = "gateway-test-client"
CLIENT_SECRET = "gateway-test-secret-0123456789"


@dataclass
class Grant:
    user: dict[str, str]
    scope: str
    client_id: str
    expires_at: float = 0.0


@dataclass
class AuthState:
    user: dict[str, str] = field(
        default_factory=lambda: {"sub": "acct-1", "email": "owner@example.com", "name": "Olive Owner"}
    )
    access_ttl: int = 3600
    rotate: bool = True  # a refresh answers a new refresh token and retires the old one
    grant_fewer: set[str] = field(default_factory=set)  # scopes asked for but not granted
    deny: bool = False
    invalid_grant: bool = False
    fail_token: bool = False
    fail_revoke: bool = False
    delay: float = 0.0
    codes: dict[str, tuple[Grant, str, str]] = field(default_factory=dict)  # code: grant, redirect, challenge
    access: dict[str, Grant] = field(default_factory=dict)
    refresh: dict[str, Grant] = field(default_factory=dict)
    revoked: list[str] = field(default_factory=list)  # token type hints, in order
    revoke_calls: int = 0
    token_calls: dict[str, int] = field(default_factory=dict)  # per grant type
    userinfo_calls: int = 0

    def issue(self, grant: Grant, *, with_refresh: bool = True) -> dict[str, Any]:
        access = "at-" + secrets.token_urlsafe(24)
        self.access[access] = Grant(grant.user, grant.scope, grant.client_id, time.time() + self.access_ttl)
        answer: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.access_ttl,
            "scope": grant.scope,
        }
        if with_refresh:
            refresh = "rt-" + secrets.token_urlsafe(24)
            self.refresh[refresh] = grant
            answer["refresh_token"] = refresh
        return answer

    def valid_access(self, token: str) -> Grant | None:
        grant = self.access.get(token)
        return grant if grant is not None and grant.expires_at > time.time() else None


def _error(code: str, status: int = 400, description: str = "") -> JSONResponse:
    return JSONResponse({"error": code, "error_description": description}, status_code=status)


async def _client_of(request: Request, form: Any) -> str | None:
    """The authenticated client id (client_secret_post or client_secret_basic), else None."""
    client_id, secret = form.get("client_id"), form.get("client_secret")
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        decoded = base64.b64decode(header[6:]).decode()
        client_id, _, secret = decoded.partition(":")
    return client_id if client_id == CLIENT_ID and secret == CLIENT_SECRET else None


def build_app(state: AuthState) -> Starlette:
    async def slow() -> None:
        if state.delay:
            await asyncio.sleep(state.delay)

    async def authorize(request: Request) -> Response:
        query = request.query_params
        redirect = query.get("redirect_uri", "")
        if query.get("client_id") != CLIENT_ID or not redirect:
            return _error("invalid_client")
        sep = "&" if "?" in redirect else "?"
        if state.deny:
            return RedirectResponse(f"{redirect}{sep}{urlencode({'error': 'access_denied', 'state': query['state']})}")
        if query.get("response_type") != "code" or query.get("code_challenge_method") != "S256":
            return _error("invalid_request", description="code flow with PKCE S256 only")
        granted = " ".join(s for s in query.get("scope", "").split() if s not in state.grant_fewer)
        code = secrets.token_urlsafe(16)
        state.codes[code] = (Grant(dict(state.user), granted, CLIENT_ID), redirect, query["code_challenge"])
        return RedirectResponse(f"{redirect}{sep}{urlencode({'code': code, 'state': query.get('state', '')})}")

    async def token(request: Request) -> Response:
        await slow()
        form = await request.form()
        grant_type = str(form.get("grant_type"))
        state.token_calls[grant_type] = state.token_calls.get(grant_type, 0) + 1
        if state.fail_token:
            return Response("upstream trouble", status_code=500)
        client = await _client_of(request, form)
        if client is None:
            return _error("invalid_client", 401)
        if grant_type == "authorization_code":
            found = state.codes.pop(str(form.get("code")), None)
            if found is None:
                return _error("invalid_grant", description="unknown or used code")
            grant, redirect, challenge = found
            verifier = str(form.get("code_verifier") or "")
            computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if form.get("redirect_uri") != redirect or computed != challenge:
                return _error("invalid_grant", description="redirect_uri or PKCE verifier mismatch")
            return JSONResponse(state.issue(grant))
        if grant_type == "refresh_token":
            presented = str(form.get("refresh_token"))
            grant = state.refresh.get(presented)
            if state.invalid_grant or grant is None:
                return _error("invalid_grant", description="refresh token revoked or unknown")
            if state.rotate:
                del state.refresh[presented]
                return JSONResponse(state.issue(grant))
            return JSONResponse(state.issue(grant, with_refresh=False))
        if grant_type == "client_credentials":
            scope = str(form.get("scope") or "")
            return JSONResponse(state.issue(Grant({"sub": f"client:{client}"}, scope, client), with_refresh=False))
        return _error("unsupported_grant_type")

    async def revoke(request: Request) -> Response:
        await slow()
        state.revoke_calls += 1
        if state.fail_revoke:
            return Response("unavailable", status_code=503)
        form = await request.form()
        if await _client_of(request, form) is None:
            return _error("invalid_client", 401)
        presented = str(form.get("token"))
        if state.refresh.pop(presented, None) is not None or state.access.pop(presented, None) is not None:
            state.revoked.append(str(form.get("token_type_hint") or ""))
        return Response(status_code=200)

    async def userinfo(request: Request) -> Response:
        await slow()
        state.userinfo_calls += 1
        header = request.headers.get("authorization", "")
        grant = state.valid_access(header[7:]) if header.lower().startswith("bearer ") else None
        if grant is None:
            return _error("invalid_token", 401)
        return JSONResponse(grant.user)

    return Starlette(
        routes=[
            Route("/authorize", authorize),
            Route("/token", token, methods=["POST"]),
            Route("/revoke", revoke, methods=["POST"]),
            Route("/userinfo", userinfo),
        ]
    )


@dataclass
class RunningAuthServer:
    url: str
    state: AuthState

    def settings_for(self, *providers: str) -> dict[str, str]:
        """`GATEWAY_OAUTH_*` values pointing the named providers here."""
        values: dict[str, str] = {}
        for provider in providers:
            prefix = f"GATEWAY_OAUTH_{provider.upper()}_"
            values.update(
                {
                    prefix + "CLIENT_ID": CLIENT_ID,
                    prefix + "CLIENT_SECRET": CLIENT_SECRET,
                    prefix + "AUTHORIZE_URL": f"{self.url}/authorize",
                    prefix + "TOKEN_URL": f"{self.url}/token",
                    prefix + "USERINFO_URL": f"{self.url}/userinfo",
                }
            )
            if provider != "hubspot":  # HubSpot offers no RFC 7009 revocation, here as there
                values[prefix + "REVOKE_URL"] = f"{self.url}/revoke"
        return values


@contextlib.asynccontextmanager
async def auth_server(port: int | None = None) -> AsyncIterator[RunningAuthServer]:
    state = AuthState()
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(build_app(state), host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield RunningAuthServer(url=f"http://127.0.0.1:{port}", state=state)
    finally:
        server.should_exit = True
        await task
