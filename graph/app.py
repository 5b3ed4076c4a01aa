"""The Starlette application: GraphQL over HTTP and WebSocket, health, readiness, metrics, JWKS."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import psutil
from cross_web import HTTPException
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError

from gateway.clients import egress_policy, oauth_registry, secret_box
from gateway.db import create_engine, session_factory, statements_executed
from gateway.settings import Settings
from graph.context import Context, Resources
from graph.errors import RequestErrorCode
from graph.integrations.callback import oauth_callback
from graph.limits import BodySizeLimit, body_limits
from graph.schema import build_schema
from graph.sockets import TOO_MANY_SOCKETS, LegacyGraphQLWSHandler, SocketRegistry
from services.addresses import TrustedProxies
from services.events import EventHub
from services.mailer import Mailer
from services.sessions import is_revoked
from services.task_queues import TaskQueues
from services.tokens import TokenKeys, dev_key_set, load_key_set

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


class SocketApp:
    """The WebSocket endpoint: at most `GATEWAY_MAX_SOCKETS_PER_ADDRESS` open sockets per client address
    (initialised or not), then strawberry's handler, then forgetting the socket when it ends."""

    def __init__(self, app: GatewayGraphQL) -> None:
        self.app = app
        self.open_per_address: Counter[str] = Counter()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        resources = self.app.resources
        peer = scope.get("client")
        forwarded = next(
            (value.decode("latin-1") for name, value in scope.get("headers", ()) if name == b"x-forwarded-for"), None
        )
        address = resources.proxies.client(peer[0] if peer else None, forwarded) or "unknown"
        if self.open_per_address[address] >= resources.settings.max_sockets_per_address:
            # Refused at the handshake (the client sees HTTP 403), before any per-socket work.
            await send(
                {
                    "type": "websocket.close",
                    "code": TOO_MANY_SOCKETS,
                    "reason": "Too many open sockets from this address",
                }
            )
            return
        self.open_per_address[address] += 1
        try:
            await self.app(scope, MessageRate(receive, send), send)
        finally:
            self.open_per_address[address] -= 1
            if self.open_per_address[address] <= 0:
                del self.open_per_address[address]
            self.app.sockets.discard_scope(scope)


class MessageRate:
    """The socket's `receive`, allowing a burst of 100 client messages and 20 a second after that: a
    ping flood (154,000 pings in 8 s from one socket, before `connection_init`) kept the loop answering
    pongs, and /healthz waited 0.6 s. A socket over the rate is closed with 4429."""

    BURST, PER_SECOND = 100, 20.0

    def __init__(self, receive: Any, send: Any) -> None:
        self.receive, self.send = receive, send
        self.tokens, self.last = float(self.BURST), time.monotonic()

    async def __call__(self) -> Any:
        message = await self.receive()
        if message.get("type") != "websocket.receive":
            return message
        now = time.monotonic()
        self.tokens = min(self.BURST, self.tokens + (now - self.last) * self.PER_SECOND) - 1
        self.last = now
        if self.tokens >= 0:
            return message
        with contextlib.suppress(Exception):
            await self.send({"type": "websocket.close", "code": TOO_MANY_SOCKETS, "reason": "Too many messages"})
        return {"type": "websocket.disconnect", "code": TOO_MANY_SOCKETS}


class CountingApp:
    """Counts GraphQL HTTP requests for /metrics before handing them to strawberry."""

    def __init__(self, app: GatewayGraphQL, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.metrics.requests += 1
        await self.app(scope, receive, send)


def load_keys(settings: Settings) -> TokenKeys:
    if settings.jwt_private_keys:
        key_set = load_key_set(settings.jwt_private_keys)
    elif settings.is_production:
        raise SystemExit("GATEWAY_JWT_PRIVATE_KEYS is required in production")
    else:
        key_set = dev_key_set(settings.data_dir)
    return TokenKeys(key_set, issuer=settings.jwt_issuer, ttl_seconds=settings.access_token_ttl)


def load_mailer(settings: Settings) -> Mailer:
    if not settings.smtp_url and settings.is_production:
        raise SystemExit(
            "GATEWAY_SMTP_URL is required in production: without it, verification and "
            "password-reset mails are only written to files on the server "
            "(e.g. GATEWAY_SMTP_URL=smtp+starttls://user:password@smtp.example.com:587)"
        )
    return Mailer(smtp_url=settings.smtp_url, outbox=settings.data_dir / "outbox")


async def open_resources(settings: Settings, *, database_url: str, redis_url: str) -> Resources:
    engine = create_engine(database_url, pool_size=settings.db_pool_size)
    redis = Redis.from_url(redis_url, decode_responses=True, socket_timeout=2, socket_connect_timeout=2)
    return Resources(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        redis=redis,
        keys=load_keys(settings),
        mailer=load_mailer(settings),
        events=EventHub(redis, queue_size=settings.ws_queue_size),
        box=secret_box(settings),
        policy=egress_policy(settings),
        queues=TaskQueues(redis_url),
        proxies=TrustedProxies(settings.trusted_proxies),
        registry=oauth_registry(settings),
    )


async def close_resources(resources: Resources) -> None:
    await resources.events.close()
    await resources.queues.disconnect()
    await resources.redis.aclose()
    await resources.engine.dispose()


class Metrics:
    def __init__(self) -> None:
        self.started = time.time()
        self.requests = 0


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
    process = psutil.Process()

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        checks: dict[str, str] = {}
        try:
            async with asyncio.timeout(2), resources.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            checks["postgres"] = "ok"
        except Exception:
            checks["postgres"] = "unreachable"
        try:
            async with asyncio.timeout(2):
                await resources.redis.ping()
            checks["redis"] = "ok"
        except Exception:
            checks["redis"] = "unreachable"
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", **checks}, status_code=200 if ready else 503
        )

    async def metrics_endpoint(_: Request) -> Response:
        lines = [
            "# TYPE gateway_http_graphql_requests_total counter",
            f"gateway_http_graphql_requests_total {metrics.requests}",
            "# TYPE gateway_sql_statements_total counter",
            f"gateway_sql_statements_total {statements_executed()}",
            "# TYPE gateway_events_published_total counter",
            f"gateway_events_published_total {resources.events.counters.published}",
            "# TYPE gateway_event_publish_failures_total counter",
            f"gateway_event_publish_failures_total {resources.events.counters.publish_failures}",
            "# TYPE gateway_event_subscribers_dropped_total counter",
            f"gateway_event_subscribers_dropped_total {resources.events.counters.dropped_subscribers}",
            "# TYPE gateway_event_subscribers gauge",
            f"gateway_event_subscribers {resources.events.subscriber_count}",
            "# TYPE process_resident_memory_bytes gauge",
            f"process_resident_memory_bytes {process.memory_info().rss}",
            "# TYPE process_start_time_seconds gauge",
            f"process_start_time_seconds {metrics.started:.0f}",
        ]
        return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")

    async def jwks(_: Request) -> Response:
        return JSONResponse(resources.keys.public_jwks(), headers={"Cache-Control": "public, max-age=300"})

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
            Route("/graphql", CountingApp(graphql, metrics), methods=["GET", "POST"]),
            WebSocketRoute("/graphql", SocketApp(graphql)),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            Route("/.well-known/jwks.json", jwks),
            # Integrations (issue 11): where OAuth providers send the browser back.
            Route("/oauth/callback/{provider}", oauth_callback(resources), methods=["GET"]),
        ],
        middleware=middleware,
    )


@contextlib.asynccontextmanager
async def serving(settings: Settings, *, database_url: str, redis_url: str) -> AsyncIterator[Resources]:
    resources = await open_resources(settings, database_url=database_url, redis_url=redis_url)
    try:
        yield resources
    finally:
        await close_resources(resources)
