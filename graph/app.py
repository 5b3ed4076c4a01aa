"""The Starlette application: GraphQL over HTTP and WebSocket, with the probes (graph/probes.py), the
metrics (graph/metrics.py) and socket admission (graph/sockets.py) mounted beside it."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any, cast

import orjson
from cross_web import HTTPException
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types.execution import ExecutionResult as StrawberryExecutionResult

from graph import ide, media
from graph.context import Context
from graph.downloads import download_endpoint
from graph.errors import RequestErrorCode
from graph.integrations.callback import oauth_callback
from graph.limits import BodySizeLimit, body_limits
from graph.metrics import HttpMetrics, metrics_route
from graph.persisted import PersistedQueries, PersistedQueryError, load_manifest
from graph.probes import probe_routes
from graph.schema import build_schema
from graph.socket_protocols import LegacyGraphQLWSHandler, SocketAdapter, TransportWSHandler
from graph.sockets import SocketApp, SocketRegistry
from graph.telemetry import HttpSpans, RequestIds
from services.resources import Resources
from services.sign_ins import is_revoked

log = logging.getLogger("gateway")


class GatewayGraphQL(GraphQL[Context, None]):
    graphql_ws_handler_class = LegacyGraphQLWSHandler
    graphql_transport_ws_handler_class = TransportWSHandler
    websocket_adapter_class = SocketAdapter

    def __init__(self, resources: Resources, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.resources = resources
        self.sockets = SocketRegistry(resources.redis)
        trusted = resources.settings.trusted_documents
        self.persisted = PersistedQueries(resources.redis, load_manifest(trusted) if trusted else None)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Strawberry's HTTP handling, except that a request it refuses (malformed JSON, a missing query,
        a wrong method) is answered as a GraphQL error in JSON, like every other refusal."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        if not preflighted_upload(scope):
            # Refused before a byte of the body is read.
            await CSRF_REFUSAL(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        try:
            response = media.finish(request, await self.run(request))
        except ClientDisconnect:
            return  # the client left mid-body: nobody to answer, nothing to log
        except PersistedQueryError as refused:
            status = 400 if refused.code == RequestErrorCode.BAD_REQUEST else 200
            response = JSONResponse(refused.as_response(), status_code=status)
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

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        """HTTP answers are encoded with orjson: fast, and it splices the JSON text PostgreSQL built for a
        compiled selection (graph/compiled/) as it is, never parsing and re-encoding it. (Socket frames
        keep `encode_json`: text frames, and sockets never compile.)"""
        response = Response(encode_response(response_data), status_code=200, media_type="application/json")
        response.headers.raw.extend(sub_response.headers.raw)
        if sub_response.background:
            response.background = sub_response.background
        if sub_response.status_code:
            response.status_code = sub_response.status_code
        return response

    async def process_result(self, request: Request, result: StrawberryExecutionResult) -> GraphQLHTTPResponse:
        processed = await super().process_result(request, result)
        if media.is_request_error(result) and media.wants_graphql_response(request):
            media.mark_request_error(request, cast("dict[str, Any]", processed))
        return processed

    async def render_graphql_ide(self, request: Request) -> Response:
        return ide.page()

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A GET naming a persisted query by its hash is a query, not a browser asking for GraphiQL.
        params = request.query_params
        return super().should_render_graphql_ide(request) and "extensions" not in params and "documentId" not in params

    async def execute_operation(
        self,
        request: Request,
        request_adapter: Any,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> Any:
        """Resolves a persisted query's hash (APQ or `documentId`) to its text first (graph/persisted.py)."""
        if isinstance(request_data, GraphQLRequestData):
            document_id = await _document_id(request_adapter) if request_data.query is None else None
            query, context.persist = await self.persisted.resolve(
                request_data.query, request_data.extensions, document_id
            )
            request_data = replace(request_data, query=query)
        return await super().execute_operation(
            request, request_adapter, request_data, context, root_value, sub_response
        )

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
        # Read once: the socket does not keep the token for its life.
        context.connection_params = None
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
        self.sockets.add(context.request, viewer.sign_in_id, viewer.expires_at, viewer.user_id)
        if viewer.sign_in_id is not None and await self._revoked(viewer.sign_in_id):
            self.sockets.discard(context.request)
            raise ConnectionRejectionError({"message": "The session has ended; sign in again."})
        return await super().on_ws_connect(context)

    async def _revoked(self, sign_in_id: str) -> bool:
        try:
            return await is_revoked(self.resources.redis, sign_in_id)
        except (RedisError, OSError):
            # Without Redis a revocation cannot be known; the token's expiry still bounds the socket.
            log.warning("cannot check session revocation: Redis unreachable")
            return False


def encode_response(data: object) -> bytes:
    """orjson; an integer beyond its 64 bits (a stored JSON document may hold one) is printed by Python and
    spliced as it is, like a compiled fragment."""
    try:
        return orjson.dumps(data)
    except orjson.JSONEncodeError:
        return orjson.dumps(_big_integers(data))


def _big_integers(value: object) -> object:
    if isinstance(value, dict):
        return {key: _big_integers(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_big_integers(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return orjson.Fragment(str(value))
    return value


# Uploads (issue 10): a multipart POST is a "simple" request a browser sends cross-site without asking;
# like Apollo Server, one without a header that forces a CORS preflight is refused (CSRF).
PREFLIGHT_HEADERS = (b"apollo-require-preflight", b"x-requested-with")
CSRF_REFUSAL = JSONResponse(
    {
        "errors": [
            {
                "message": "This upload was blocked as a potential cross-site request forgery: send it with an "
                "`Apollo-Require-Preflight: true` (or `X-Requested-With`) header.",
                "extensions": {"code": RequestErrorCode.BAD_REQUEST.value},
            }
        ]
    },
    status_code=400,
)


def preflighted_upload(scope: Any) -> bool:
    """True unless the request is multipart without a header that forces a preflight."""
    headers = dict(scope.get("headers") or ())
    content_type = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
    if content_type != b"multipart/form-data":
        return True
    return any(headers.get(name, b"").strip() for name in PREFLIGHT_HEADERS)


async def _document_id(request: Any) -> object:
    """`documentId` (GraphQL over HTTP's persisted documents) from the query string or the JSON body."""
    if request.method == "GET":
        return request.query_params.get("documentId")
    if (request.content_type or "").startswith("multipart/"):
        return None  # an upload's body was read as a form, and names its query itself
    try:
        body = json.loads(await request.get_body())
    except (ValueError, RecursionError):
        return None
    return body.get("documentId") if isinstance(body, dict) else None


class GatewayApp(Starlette):
    """Starlette, except that a WebSocket to `/graphql` goes straight to socket admission (graph/sockets.py).

    A socket's task lives as long as the socket, and every layer it passes keeps a suspended frame (and
    what it wraps) for that long: Starlette's error and exception middleware, ours (which pass WebSockets
    through, except the request id, which `SocketApp` sets) and the router were 12 frames and ~4 KiB per
    idle socket (docs/decisions.md, issue 14 memory). The route stays for a path the check here does not
    recognise (an app served under a root path)."""

    def __init__(self, sockets: SocketApp, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sockets = sockets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == "/graphql":
            scope["app"] = self
            await self.sockets(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def create_app(resources: Resources) -> GatewayApp:
    settings = resources.settings
    schema = build_schema(settings)
    graphql = GatewayGraphQL(
        resources,
        schema=schema,
        graphql_ide=None if settings.is_production else "graphiql",
        allowed_origins=settings.cors_origins,
        connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout),
        max_subscriptions_per_connection=settings.ws_max_subscriptions,
        multipart_uploads_enabled=True,  # uploadDocument; CSRF-guarded in GatewayGraphQL.__call__
    )
    sockets = SocketApp(graphql, graphql.sockets, resources)
    # Outermost: every answer is counted and carries its request id, refusals by the layers below too.
    middleware = [Middleware(HttpSpans), Middleware(HttpMetrics), Middleware(RequestIds)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["authorization", "content-type", "apollo-require-preflight", "x-requested-with"],
            )
        )
    # Inside CORS (a browser can read the refusal), outside every route: a refused body is never read.
    middleware.append(Middleware(BodySizeLimit, limit_for=body_limits(settings.max_body_bytes)))
    return GatewayApp(
        sockets,
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", sockets),
            *probe_routes(resources),
            *(ide.asset_routes() if graphql.graphql_ide else []),
            metrics_route(resources, sockets.open_count),
            Route("/documents/{document_id}/download", download_endpoint(resources), methods=["GET"]),
            # Integrations (issue 11): where OAuth providers send the browser back.
            Route("/oauth/callback/{provider}", oauth_callback(resources), methods=["GET"]),
        ],
        middleware=middleware,
    )
