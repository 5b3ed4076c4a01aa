"""HTTP helpers against a live gateway (the realtime tests' writer side)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.graphql_client import PASSWORD, REGISTER

SEND = """mutation($input: SendMessageInput!) {
  sendMessage(input: $input) { message { id seq content } errors { field code message } } }"""
CREATE = """mutation($input: CreateChatSessionInput!) {
  createChatSession(input: $input) { chatSession { id } errors { code } } }"""
MESSAGES = """query($id: ID!) { node(id: $id) { ... on ChatSession {
  messages(first: 100) { edges { cursor node { id seq content } } } } } }"""


class LiveUser:
    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token

    @classmethod
    async def register(cls, url: str) -> LiveUser:
        email = f"live-{uuid.uuid4().hex[:10]}@example.com"
        data = await post(
            url, REGISTER, {"input": {"email": email, "password": PASSWORD, "firstName": "Live", "lastName": "User"}}
        )
        return cls(url, data["register"]["accessToken"])

    async def gql(self, query: str, variables: dict[str, Any], *, url: str | None = None) -> dict[str, Any]:
        return await post(url or self.url, query, variables, token=self.token)

    async def new_session(self, title: str = "Live chat") -> str:
        data = await self.gql(CREATE, {"input": {"title": title}})
        return str(data["createChatSession"]["chatSession"]["id"])

    async def send(self, session_id: str, content: str, *, url: str | None = None) -> dict[str, Any]:
        data = await self.gql(SEND, {"input": {"sessionId": session_id, "content": content}}, url=url)
        assert data["sendMessage"]["errors"] == [], data
        return data["sendMessage"]["message"]  # type: ignore[no-any-return]

    async def cursors(self, session_id: str) -> list[tuple[str, int]]:
        data = await self.gql(MESSAGES, {"id": session_id})
        return [(edge["cursor"], edge["node"]["seq"]) for edge in data["node"]["messages"]["edges"]]


async def post(url: str, query: str, variables: dict[str, Any], *, token: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(f"{url}/graphql", json={"query": query, "variables": variables}, headers=headers)
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]
