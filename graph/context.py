"""The typed per-request context: who is asking, one database session, fresh loaders, Redis."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.types import Info as StrawberryInfo

from loaders import Loaders
from loaders.session import RequestDb
from services.resources import Resources
from services.tokens import InvalidToken

log = logging.getLogger("gateway.graph")


@dataclass(slots=True)
class Viewer:
    user_id: uuid.UUID
    sign_in_id: str | None
    expires_at: int


class OperationScope:
    """The database session and loaders of one operation on a socket, renewed for every event.

    A socket's context lives as long as the socket and serves every operation on it at once, so what
    an operation loads cannot live on the context: a subscription would keep a pooled connection
    (idle in transaction) from its first event until it ends, and 20 sockets would drain the pool.
    """

    def __init__(self, context: Context) -> None:
        self.context = context
        # Made on first use: an idle subscription holds none (issue 14 memory).
        self.own: tuple[RequestDb, Loaders] | None = None

    def _own(self) -> tuple[RequestDb, Loaders]:
        if self.own is None:
            self.own = self.context.fresh_db()
        return self.own

    @property
    def db(self) -> RequestDb:
        return self._own()[0]

    @property
    def loaders(self) -> Loaders:
        return self._own()[1]

    async def renew(self) -> None:
        """Close this event's session (before the event is sent); the next event that reads starts its
        own. An event that read nothing (a live message is built from the event itself) leaves both as
        they are: renewing them per subscriber per event cost a session, a lock and the loaders for
        nothing."""
        own, self.own = self.own, None
        if own is not None and (own[0].opened or not own[1].unused):
            await own[0].close()
        else:
            self.own = own

    async def close(self) -> None:
        if self.own is not None:
            await self.own[0].close()


_operation_scope: ContextVar[OperationScope | None] = ContextVar("operation_scope", default=None)


@dataclass(slots=True)  # one per socket, for the socket's life: no instance dict (issue 14 memory)
class Context:
    request: Request | WebSocket
    response: Response | WebSocket | None
    resources: Resources
    viewer: Viewer | None = None
    auth_error: str | None = None
    # The WebSocket `connection_init` payload, until `on_ws_connect` has read the token in it.
    connection_params: dict[str, object] | None = None
    cost: int | None = None  # the operation's static cost, once computed
    persist: tuple[str, str] | None = None  # an APQ (hash, text) to register once it validated
    # Left by deleted_accounts_are_anonymous to the `node`/`nodes` fields (graph/permissions.py): a compiled
    # one checks the account in its own statement, one answered by its resolver calls `check_account`.
    account_check_deferred: bool = False
    _account_check: asyncio.Future[None] | None = field(init=False, repr=False, default=None)
    # The request's database session and loaders, made on first use (a socket's operations use their
    # own, `OperationScope`; an idle socket holds none).
    _own: tuple[RequestDb, Loaders] | None = field(init=False, repr=False, default=None)

    def _request_db(self) -> tuple[RequestDb, Loaders]:
        if self._own is None:
            self._own = self.fresh_db()
        return self._own

    def fresh_db(self) -> tuple[RequestDb, Loaders]:
        db = RequestDb(self.resources.sessionmaker)
        return db, Loaders(db, self.viewer_id, self.resources.document_cache)

    @property
    def is_socket(self) -> bool:
        return isinstance(self.request, WebSocket)

    def current_scope(self) -> OperationScope | None:
        scope = _operation_scope.get()
        return scope if scope is not None and scope.context is self else None

    @property
    def db(self) -> RequestDb:
        """The operation's database session: the request's, or on a socket the current event's."""
        scope = self.current_scope()
        return scope.db if scope is not None else self._request_db()[0]

    @property
    def loaders(self) -> Loaders:
        scope = self.current_scope()
        return scope.loaders if scope is not None else self._request_db()[1]

    @contextmanager
    def operation(self) -> Iterator[OperationScope]:
        """Open the scope of one operation on a socket. Each operation runs in a task of its own, and
        the scope is a context variable of that task (and of the tasks it starts)."""
        scope = OperationScope(self)
        token = _operation_scope.set(scope)
        try:
            yield scope
        finally:
            _operation_scope.reset(token)

    def reset(self) -> None:
        """Fresh database session and loaders, e.g. once the viewer changed (the old session must be
        closed by the caller)."""
        scope = self.current_scope()
        if scope is not None:
            scope.own = None
        else:
            self._own = None

    @property
    def viewer_id(self) -> uuid.UUID | None:
        return self.viewer.user_id if self.viewer is not None else None

    @property
    def redis(self) -> Redis:
        return self.resources.redis

    @property
    def client_address(self) -> str | None:
        """The client's address; `X-Forwarded-For` counts only from a trusted proxy."""
        client = self.request.client
        return self.resources.proxies.client(
            client.host if client is not None else None, self.request.headers.get("x-forwarded-for")
        )

    async def active_viewer(self) -> Any:
        """The viewer's row when signed in to an account that still exists (one cached load)."""
        if self.viewer is None:
            return None
        return await self.loaders.users.load(self.viewer.user_id)

    async def session_revoked(self) -> bool:
        """Whether an HTTP request's access token belongs to a sign-in session that has ended (logout,
        logout everywhere, a password change or reset, a reused refresh token): one Redis read per sign-in
        and process (services/revocations.py). Sockets check at `connection_init` and are closed by the
        revocation event instead."""
        viewer = self.viewer
        if viewer is None or viewer.sign_in_id is None or isinstance(self.request, WebSocket):
            return False
        try:
            return await self.resources.revocations.is_revoked(viewer.sign_in_id)
        except (RedisError, OSError):
            # Without Redis a revocation cannot be known; the token's expiry still bounds it.
            log.warning("cannot check session revocation: Redis unreachable")
            return False

    async def forget_deleted_viewer(self) -> None:
        """An access token outlives its account's deletion by up to 15 minutes; until it expires the
        account is anonymous: it sees nothing (node, nodes, agents) and changes nothing."""
        if self.viewer is None:
            return
        if self.is_socket:
            # A socket's context outlives every operation on it (a subscription streams for hours):
            # check on a short session of its own, never holding a pooled connection.
            db = RequestDb(self.resources.sessionmaker)
            try:
                row = await Loaders(db, self.viewer.user_id).users.load(self.viewer.user_id)
            finally:
                await db.close()
        else:
            row = await self.active_viewer()
        if row is None:
            await self.db.close()
            self.viewer = None
            self.reset()

    def check_account(self) -> asyncio.Future[None]:
        """The deferred account check, run once for every field that waits for it. One future, so the
        fields resume together and their loaders still batch into one statement."""
        if self._account_check is None:
            self._account_check = asyncio.ensure_future(self.forget_deleted_viewer())
        return self._account_check

    def authenticate(self, authorization: str | None) -> None:
        """Set the viewer from an `Authorization: Bearer` value. No value means anonymous; a value
        that is not a valid token is remembered and refuses the whole operation."""
        self.viewer, self.auth_error = None, None
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                self.auth_error = "The Authorization header must be `Bearer <access token>`."
            else:
                try:
                    claims = self.resources.keys.verify(token.strip())
                    self.viewer = Viewer(
                        user_id=claims.user_id, sign_in_id=claims.sign_in_id, expires_at=claims.expires_at
                    )
                except InvalidToken:
                    self.auth_error = "The access token is invalid or has expired."
        self.reset()


Info = StrawberryInfo[Context, None]
