"""Fixtures of the account tests."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from graph.app import create_app
from services.events import EventHub
from services.resources import Resources
from services.revocations import RevocationWatch
from tests.graphql_client import GraphQLClient


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def without_redis(resources: Resources) -> AsyncIterator[GraphQLClient]:
    """The app with its Redis at a closed port: a real server that is not there."""
    dead = Redis.from_url(
        f"redis://127.0.0.1:{_closed_port()}/0", decode_responses=True, socket_timeout=1, socket_connect_timeout=1
    )
    events = EventHub(dead)
    revocations = RevocationWatch(dead, events)
    broken_resources = dataclasses.replace(resources, redis=dead, events=events, revocations=revocations)
    try:
        async with GraphQLClient.over_asgi(create_app(broken_resources)) as broken:
            yield broken
    finally:
        await revocations.close()
        await events.close()
        await dead.aclose()
