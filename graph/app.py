"""The Starlette application: GraphQL over HTTP and WebSocket, with the probes (graph/probes.py), the
metrics (graph/metrics.py) and socket admission (graph/sockets.py) mounted beside it."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from cross_web import HTTPException
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError

from graph.context import Context
from graph.errors import RequestErrorCode
from graph.integrations.callback import oauth_callback
from graph.limits import BodySizeLimit, body_limits
from graph.metrics import Metrics
from graph.probes import probe_routes
from graph.schema import build_schema
from graph.sockets import LegacyGraphQLWSHandler, SocketApp, SocketRegistry
from services.resources import Resources
from services.sessions import is_revoked

log = logging.getLogger("gateway")


class GatewayGraphQL(GraphQL[Context, None]):
    graphql_ws_handler_class = LegacyGraphQLWSHandler

    def __init__(self, resources: Resources, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.resources = resources
        self.sockets = SocketRegistry(resources.redis)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Strawberry's HTTP handling, except that a request it refuses (malformed JSON, a missing query,
        a wrong method) is answered as a GraphQL error in JSON, like every other refusal."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except ClientDisconnect:
            return  # the client left mid-body: nobody to answer, nothing to log
        except HTTPException as refused:
            response = JSONResponse(
                {"errors": [{"message": refused.reason, "extensions": {"code": RequestErrorCode.BAD_REQUEST.value}}]},
                status_code=refused.status_code,
            )
        await response(scope, receive, send)

    def decode_json(self, data: str | bytes) -> object:
        """A body nested too deeply for the parser's recursion, with a number too long to convert or
        with bytes that are not UTF-8 is malformed JSON like any other: HTTP 400 (a socket: 4400), never
        an unexpected error."""
        try:
            return json.loads(data)
        except json.JSONDecodeError:
            raise
        except (RecursionError, ValueError) as error:
            raise json.JSONDecodeError(f"unreadable JSON ({type(error).__name__})", "", 0) from None

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        context = Context(request=request, response=response, resources=self.resources)
        if isinstance(request, Request):
            context.authenticate(request.headers.get("authorization"))
        return context

    async def on_ws_connect(self, context: Context) -> Any:
        """Sockets authenticate in the `connection_init` payload: {"authorization": "Bearer ..."}.
        A refused init closes the socket with 4403."""
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        authorization = params.get("authorization") or params.get("Authorization")
        context.authenticate(authorization if isinstance(authorization, str) else None)
        if context.auth_error:
            raise ConnectionRejectionError({"message": context.auth_error})
        viewer = context.viewer
        if viewer is None:
            # Every subscription needs a user: an anonymous socket would only hold resources.
            raise ConnectionRejectionError(
                {"message": 'Sign in first: send {"authorization": "Bearer <access token>"} in connection_init.'}
            )
        limit = self.resources.settings.ws_max_connections_per_user
        if self.sockets.connections_of(viewer.user_id) >= limit:
            raise ConnectionRejectionError({"message": f"At most {limit} connections per user."})
        assert isinstance(context.request, WebSocket)
        # Registered before the revocation check: a revocation landing in between still closes it.
        self.sockets.add(context.request, viewer.session_id, viewer.expires_at, viewer.user_id)
        if viewer.session_id is not None and await self._revoked(viewer.session_id):
            self.sockets.discard(context.request)
            raise ConnectionRejectionError({"message": "The session has ended; sign in again."})
        return await super().on_ws_connect(context)

    async def _revoked(self, session_id: str) -> bool:
        try:
            return await is_revoked(self.resources.redis, session_id)
        except (RedisError, OSError):
            # Without Redis a revocation cannot be known; the token's expiry still bounds the socket.
            log.warning("cannot check session revocation: Redis unreachable")
            return False


def create_app(resources: Resources) -> Starlette:
    settings = resources.settings
    schema = build_schema(settings)
    graphql = GatewayGraphQL(
        resources,
        schema=schema,
        graphql_ide=None if settings.is_production else "graphiql",
        allowed_origins=settings.cors_origins,
        connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout),
        max_subscriptions_per_connection=settings.ws_max_subscriptions,
    )
    metrics = Metrics()

    middleware = []
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["authorization", "content-type"],
            )
        )
    # Inside CORS (a browser can read the refusal), outside every route: a refused body is never read.
    middleware.append(Middleware(BodySizeLimit, limit_for=body_limits(settings.max_body_bytes)))
    return Starlette(
        routes=[
            Route("/graphql", metrics.counting(graphql), methods=["GET", "POST"]),
            WebSocketRoute("/graphql", SocketApp(graphql, graphql.sockets, resources)),
            *probe_routes(resources),
            metrics.route(resources),
            # Integrations (issue 11): where OAuth providers send the browser back.
            Route("/oauth/callback/{provider}", oauth_callback(resources), methods=["GET"]),
        ],
        middleware=middleware,
    )
