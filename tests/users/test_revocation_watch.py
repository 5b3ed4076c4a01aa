"""A process reads Redis once per sign-in to know it has not ended, not once per request
(services/revocations.py), and still refuses an ended sign-in's token: at once when it ended in this
process, as soon as the revocation channel says so when another process ended it, and by reading Redis
again whenever that channel is down or the answer is older than its limit."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from services import keys
from services.resources import Resources, close_resources, open_resources
from services.revocations import MAX_AGE_SECONDS, RevocationWatch
from tests.graphql_client import GraphQLClient, SignedUp
from tests.users.flows import logout, unauthenticated

VIEWER = "{ viewer { id } }"


def checks(text: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "gateway_revocation_checks":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    found[sample.labels["source"]] = sample.value
    return found


async def scrape(client: GraphQLClient) -> dict[str, float]:
    return checks((await client.http.get("/metrics")).text)


async def until(condition: Any, seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.01)


async def answers(client: GraphQLClient, token: str, user: SignedUp) -> bool:
    body = await client.execute(VIEWER, token=token)
    if unauthenticated(body):
        return False
    assert body["data"]["viewer"] == {"id": user.id}, body
    return True


async def remembered(client: GraphQLClient, resources: Resources, user: SignedUp) -> None:
    """The user's sign-in answered, with the watch listening: remembered by this process."""
    assert await answers(client, user.token, user)
    await until(lambda: resources.revocations.listening)
    assert await answers(client, user.token, user)


def ended_elsewhere(redis: Redis, sign_in_id: str, *, publish: bool = True) -> Any:
    """What another gateway process writes when a sign-in ends there (services/sign_ins.py `end`)."""
    pipe = redis.pipeline(transaction=True)
    pipe.set(keys.revoked_sign_in(sign_in_id), "1", ex=60)
    if publish:
        pipe.publish(keys.REVOCATIONS_CHANNEL, json.dumps({"sid": sign_in_id, "user_id": str(uuid.uuid4())}))
    return pipe.execute()


def sign_in_of(resources: Resources, user: SignedUp) -> str:
    sign_in_id = resources.keys.verify(user.token).sign_in_id
    assert sign_in_id is not None
    return sign_in_id


async def test_a_live_sign_in_costs_one_redis_read_per_process(
    client: GraphQLClient, resources: Resources, user: SignedUp
) -> None:
    starter = await client.register()
    assert await answers(client, starter.token, starter)  # the process's first check starts the watch
    await until(lambda: resources.revocations.listening)
    before = await scrape(client)
    for _ in range(5):
        assert await answers(client, user.token, user)
    after = await scrape(client)
    assert after["redis"] - before["redis"] == 1
    assert after["remembered"] - before["remembered"] == 4


async def test_a_logout_in_this_process_refuses_the_very_next_request(
    client: GraphQLClient, resources: Resources, user: SignedUp
) -> None:
    await remembered(client, resources, user)
    assert (await logout(client, user.refresh_token))["errors"] == []
    assert not await answers(client, user.token, user)


async def test_an_end_in_another_process_is_heard_on_the_channel(
    client: GraphQLClient, resources: Resources, user: SignedUp
) -> None:
    await remembered(client, resources, user)
    await ended_elsewhere(resources.redis, sign_in_of(resources, user))
    async with asyncio.timeout(2):  # as soon as the channel delivers it
        while await answers(client, user.token, user):
            await asyncio.sleep(0.001)


@pytest.fixture
async def named_resources(resources: Resources, redis_url: str, database_url: str) -> AsyncIterator[Resources]:
    """Resources of their own whose Redis connections carry a name, so a test can cut exactly them."""
    name = f"watch-{uuid.uuid4().hex[:12]}"
    separator = "&" if "?" in redis_url else "?"
    opened = await open_resources(
        resources.settings, database_url=database_url, redis_url=f"{redis_url}{separator}client_name={name}"
    )
    try:
        yield opened
    finally:
        await close_resources(opened)


async def test_while_the_channel_is_down_every_request_reads_redis(named_resources: Resources, user: SignedUp) -> None:
    from graph.app import create_app

    resources = named_resources
    async with GraphQLClient.over_asgi(create_app(resources)) as client:
        assert await answers(client, user.token, user)
        await until(lambda: resources.revocations.listening)
        assert await answers(client, user.token, user)
        name = resources.redis.connection_pool.connection_kwargs["client_name"]
        for fields in await resources.redis.client_list():
            if fields.get("name") == name and int(fields.get("sub", 0)) > 0:
                await resources.redis.client_kill_filter(_id=fields["id"])
        await until(lambda: not resources.revocations.listening)
        # Ended while nobody was listening: nothing is heard, the mark in Redis is read.
        await ended_elsewhere(resources.redis, sign_in_of(resources, user), publish=False)
        assert not await answers(client, user.token, user)
        await until(lambda: resources.revocations.listening)  # it subscribes again, remembering nothing
        assert not await answers(client, user.token, user)


async def test_a_remembered_answer_is_read_again_after_its_age_limit(resources: Resources, user: SignedUp) -> None:
    now = [1000.0]
    watch = RevocationWatch(resources.redis, resources.events, clock=lambda: now[0])
    sign_in_id = sign_in_of(resources, user)
    try:
        assert not await watch.is_revoked(sign_in_id)
        await until(lambda: watch.listening)
        assert not await watch.is_revoked(sign_in_id)
        assert not await watch.is_revoked(sign_in_id)
        assert (watch.counters.redis_reads, watch.counters.remembered) == (2, 1)
        await ended_elsewhere(resources.redis, sign_in_id, publish=False)  # a revocation lost on the way
        assert not await watch.is_revoked(sign_in_id)  # still remembered, within the limit
        now[0] += MAX_AGE_SECONDS
        assert await watch.is_revoked(sign_in_id)
    finally:
        await watch.close()
