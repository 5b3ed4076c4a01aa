"""The typed per-request context: who is asking, one database session, fresh loaders, Redis."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.types import Info as StrawberryInfo

from gateway.settings import Settings
from loaders import Loaders
from loaders.session import RequestDb
from jobs.queues import TaskQueues
from services.addresses import TrustedProxies
from services.crypto import SecretBox
from services.egress import EgressPolicy
from services.events import EventHub
from services.mailer import Mailer
from services.sessions import is_revoked
from services.tokens import InvalidToken, TokenKeys

log = logging.getLogger("gateway.graph")


@dataclass
class Resources:
    """Process-wide clients, opened once at start-up."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    keys: TokenKeys
    mailer: Mailer
    events: EventHub
    box: SecretBox
    policy: EgressPolicy
    queues: TaskQueues
    proxies: TrustedProxies


@dataclass
class Viewer:
    user_id: uuid.UUID
    session_id: str | None
    expires_at: int


@dataclass
class Context:
    request: Request | WebSocket
    response: Response | WebSocket | None
    resources: Resources
    viewer: Viewer | None = None
    auth_error: str | None = None
    connection_params: dict[str, object] | None = None  # the WebSocket `connection_init` payload
    db: RequestDb = field(init=False)
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Fresh database session and loaders (per request; per event on a socket)."""
        self.db = RequestDb(self.resources.sessions)
        self.loaders = Loaders(self.db, self.viewer_id)

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
        return self.resources.proxies.client(client.host if client is not None else None,
                                             self.request.headers.get("x-forwarded-for"))

    async def active_viewer(self) -> Any:
        """The viewer's row when signed in to an account that still exists (one cached load)."""
        if self.viewer is None:
            return None
        return await self.loaders.users.load(self.viewer.user_id)

    async def session_revoked(self) -> bool:
        """Whether an HTTP request's access token belongs to a sign-in session that has ended (logout,
        logout everywhere, a password change or reset, a reused refresh token): one Redis read. Sockets
        check at `connection_init` and are closed by the revocation event instead."""
        viewer = self.viewer
        if viewer is None or viewer.session_id is None or isinstance(self.request, WebSocket):
            return False
        try:
            return await is_revoked(self.redis, viewer.session_id)
        except (RedisError, OSError):
            # Without Redis a revocation cannot be known; the token's expiry still bounds it.
            log.warning("cannot check session revocation: Redis unreachable")
            return False

    async def forget_deleted_viewer(self) -> None:
        """An access token outlives its account's deletion by up to 15 minutes; until it expires the
        account is anonymous: it sees nothing (node, nodes, agents) and changes nothing."""
        if self.viewer is None:
            return
        if isinstance(self.request, WebSocket):
            # A socket's context outlives every operation on it (a subscription streams for hours):
            # check on a short session of its own, never holding a pooled connection.
            db = RequestDb(self.resources.sessions)
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
                    self.viewer = Viewer(user_id=claims.user_id, session_id=claims.session_id,
                                         expires_at=claims.expires_at)
                except InvalidToken:
                    self.auth_error = "The access token is invalid or has expired."
        self.reset()


Info = StrawberryInfo[Context, None]
