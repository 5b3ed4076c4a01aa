"""The shape of the app's own ASGI middleware (graph/app.py): each one wraps the requests of the scope types
it names and lets every other scope (lifespan, and WebSockets where it names only `http`) pass untouched."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from starlette.types import ASGIApp, Receive, Scope, Send


class ScopedMiddleware(ABC):
    SCOPES: ClassVar[tuple[str, ...]] = ("http",)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in self.SCOPES:
            await self.wrap(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    @abstractmethod
    async def wrap(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run `self.app` for a request of one of `SCOPES`, with what this middleware adds."""
