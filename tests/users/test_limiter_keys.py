"""What a client sends never becomes a Redis key: limiters key by a hash of their subject, an email is
validated before any limiter runs, and a refused request (malformed, or over a limit) adds no key."""

from __future__ import annotations

import uuid

import pytest

from services.resources import Resources
from tests.graphql_client import PASSWORD, REGISTER, GraphQLClient
from tests.users.flows import REQUEST_RESET, login, refused

HUGE_EMAIL = "a" * (500 * 1024) + "@example.com"  # 500 KB: under any body limit, far over an email's


async def redis_keys(resources: Resources) -> dict[str, int]:
    """Every key of the Redis database with its size in bytes."""
    keys: dict[str, int] = {}
    async for key in resources.redis.scan_iter(count=1000):
        keys[key] = len(key) + (await resources.redis.memory_usage(key) or 0)
    return keys


def new_keys(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Keys the request added, beside the query cost budget's one key per caller (a hash of the
    account or address, whatever the input: tests/graph/test_cost_limits.py)."""
    return {key: size for key, size in after.items() if key not in before and not key.startswith("ratelimit:cost:")}


async def request_reset(client: GraphQLClient, email: str) -> dict:
    return (await client.data(REQUEST_RESET, {"input": {"email": email}}))["requestPasswordReset"]


async def test_a_huge_email_for_a_reset_is_refused_and_stores_nothing(
    client: GraphQLClient, resources: Resources
) -> None:
    before = await redis_keys(resources)
    answer = await request_reset(client, HUGE_EMAIL)
    # Refused at the door (tests/graph/test_limits.py): longer than any email can be.
    assert [(error["field"], error["code"]) for error in answer["errors"]] == [("input.email", "TOO_LONG")]
    assert new_keys(before, await redis_keys(resources)) == {}


@pytest.mark.parametrize("length", [255, 1000])
async def test_an_email_over_254_characters_is_refused_before_the_limiter(
    client: GraphQLClient, resources: Resources, length: int
) -> None:
    email = "a" * (length - len("@example.com")) + "@example.com"
    before = await redis_keys(resources)
    assert (await request_reset(client, email))["errors"][0]["code"] == "TOO_LONG"
    assert new_keys(before, await redis_keys(resources)) == {}


async def test_an_email_of_254_characters_is_limited_under_a_short_hashed_key(
    client: GraphQLClient, resources: Resources
) -> None:
    email = f"{uuid.uuid4().hex}{'a' * (254 - 32 - len('@example.com'))}@example.com"
    assert len(email) == 254
    before = await redis_keys(resources)
    assert await request_reset(client, email) == {"errors": []}
    added = new_keys(before, await redis_keys(resources))
    limiter_keys = [key for key in added if key.startswith("ratelimit:")]
    assert len(limiter_keys) == 2  # per account and per address
    for key in limiter_keys:
        assert len(key) < 80 and email not in key and email.split("@")[0] not in key, key
        assert client.address is not None and client.address not in key


async def test_a_huge_email_at_sign_in_and_sign_up_stores_nothing(client: GraphQLClient, resources: Resources) -> None:
    before = await redis_keys(resources)
    refused(await login(client, HUGE_EMAIL, PASSWORD), "TOO_LONG")
    fields = {"email": HUGE_EMAIL, "password": PASSWORD, "firstName": "Ada", "lastName": "Lovelace"}
    answer = (await client.data(REGISTER, {"input": fields}))["register"]
    assert [error["code"] for error in answer["errors"]] == ["TOO_LONG"]
    assert new_keys(before, await redis_keys(resources)) == {}


async def test_a_request_over_the_limit_adds_no_key(client: GraphQLClient, resources: Resources) -> None:
    # Spend this address's reset requests (10 an hour), each on a different email.
    for _ in range(10):
        assert await request_reset(client, f"nobody-{uuid.uuid4().hex[:10]}@example.com") == {"errors": []}
    before = await redis_keys(resources)
    for _ in range(5):  # fresh emails: only the address is over its limit
        answer = await request_reset(client, f"nobody-{uuid.uuid4().hex[:10]}@example.com")
        assert answer["errors"][0]["code"] == "RATE_LIMITED"
    assert new_keys(before, await redis_keys(resources)) == {}


async def test_a_locked_sign_in_adds_no_key(client: GraphQLClient, resources: Resources) -> None:
    for _ in range(30):  # spend the address's budget on unknown accounts, one failure each
        await login(client, f"nobody-{uuid.uuid4().hex[:10]}@example.com", "Wrong-Horse-1")
    before = await redis_keys(resources)
    refused(await login(client, f"nobody-{uuid.uuid4().hex[:10]}@example.com", "Wrong-Horse-1"), "RATE_LIMITED")
    assert new_keys(before, await redis_keys(resources)) == {}
