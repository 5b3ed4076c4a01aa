"""A small GraphQL client for tests: HTTP over ASGI or a real socket, sign-up helpers, SQL counting."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

PASSWORD = "Correct-Horse-9"

REGISTER = """
mutation($input: RegisterInput!) {
  register(input: $input) {
    user { id email firstName }
    accessToken refreshToken
    errors { field code message }
  }
}"""


@dataclass
class SignedUp:
    id: str
    email: str
    token: str
    refresh_token: str

    @property
    def pk(self) -> uuid.UUID:
        from graph.node import decode_global_id

        return decode_global_id(self.id)[1]  # type: ignore[return-value]


class GraphQLClient:
    def __init__(self, http: httpx.AsyncClient, address: str | None = None) -> None:
        self.http = http
        self.address = address  # the client address the gateway sees (over ASGI)

    @classmethod
    @asynccontextmanager
    async def over_asgi(cls, app: Any) -> AsyncIterator[GraphQLClient]:
        # A client address of its own per test client: per-address rate limits stay per test.
        address = f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            yield cls(http, address)

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        return await self.http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=sent)

    async def execute(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        response = await self.post(query, variables, token=token, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        body = await self.execute(query, variables, token=token)
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def register(self, **overrides: Any) -> SignedUp:
        email = overrides.pop("email", f"user-{uuid.uuid4().hex[:10]}@example.com")
        fields = {"email": email, "password": PASSWORD, "firstName": "Ada", "lastName": "Lovelace", **overrides}
        payload = (await self.data(REGISTER, {"input": fields}))["register"]
        assert payload["errors"] == [], payload["errors"]
        return SignedUp(
            id=payload["user"]["id"],
            email=payload["user"]["email"],
            token=payload["accessToken"],
            refresh_token=payload["refreshToken"],
        )


class StatementCounter:
    """Counts SQL statements the engine sends while the block runs."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.statements.append(statement)

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine.sync_engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_: Any) -> None:
        event.remove(self.engine.sync_engine, "before_cursor_execute", self._record)

    def reset(self) -> None:
        self.statements.clear()

    @property
    def count(self) -> int:
        return len(self.statements)
