"""`GET /oauth/callback/{provider}`: where a provider sends the browser back after consent.

Cheap and bounded for hostile callers: an unknown provider is a 404 without any lookup; only `state`,
`code` and `error` are read, each at most 2048 characters; a state that is not one of ours costs one Redis
GETDEL and answers a 400 page (no returnTo is known for it). The provider is called only for a state this
gateway handed out, once per state."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from graph.node import global_id
from resolvers import integrations
from resolvers.integration_vault import Vault
from services.resources import Resources

log = logging.getLogger("gateway.integrations")
PARAMS = ("state", "code", "error")
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
INVALID_STATE_PAGE = """<!doctype html><meta charset="utf-8"><title>Connection not completed</title>
<h1>This connection link is not valid</h1>
<p>It was already used, it expired (links last 10 minutes), or it was not made for you.
Go back to the app and start connecting again.</p>
"""


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def oauth_callback(resources: Resources) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        provider = str(request.path_params.get("provider", ""))
        if resources.registry.get(provider) is None:
            return PlainTextResponse("Not found", status_code=404, headers=NO_STORE)
        params = {name: request.query_params[name] for name in PARAMS if name in request.query_params}
        try:
            outcome = await integrations.complete_connection(Vault.of(resources), provider, params)
        except Exception:
            log.exception("the OAuth callback failed")
            return PlainTextResponse("The connection could not be completed; try again.", 503, headers=NO_STORE)
        if outcome.return_to is None:
            return HTMLResponse(INVALID_STATE_PAGE, status_code=400, headers=NO_STORE)
        if outcome.integration is not None:
            target = with_query(outcome.return_to, integration=global_id("Integration", outcome.integration.id))
        else:
            assert outcome.error is not None
            target = with_query(outcome.return_to, error=outcome.error.value)
        return RedirectResponse(target, status_code=303, headers=NO_STORE)

    return endpoint
