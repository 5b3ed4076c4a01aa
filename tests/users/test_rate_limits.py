"""Abuse limits in Redis: failed sign-ins per account (5 per 15 min) and per client address (30 per
15 min); password-reset requests per account (3 per hour) and per address (10 per hour). A limited
attempt is a RATE_LIMITED payload error with retryAfter; an unknown email is limited like a known one."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from graph.context import Resources
from tests.graphql_client import PASSWORD, GraphQLClient, SignedUp
from tests.users.flows import REQUEST_RESET, login, mails_to, refused, signed_in

WRONG = "Wrong-Horse-1"
LOGIN_WINDOW, RESET_WINDOW = 15 * 60, 60 * 60


def unknown_email() -> str:
    return f"nobody-{uuid.uuid4().hex[:10]}@example.com"


def rate_limited(payload: dict, window: int) -> dict:
    error = refused(payload, "RATE_LIMITED") if "accessToken" in payload else payload["errors"][0]
    assert error["code"] == "RATE_LIMITED"
    assert 0 < error["retryAfter"] <= window
    assert error["message"]
    return error


async def request_reset(client: GraphQLClient, email: str) -> dict:
    return (await client.data(REQUEST_RESET, {"input": {"email": email}}))["requestPasswordReset"]


# --- sign-in ---------------------------------------------------------------------------------------


async def test_five_wrong_passwords_lock_the_account_for_a_while(client: GraphQLClient, app,  # noqa: ANN001
                                                                 user: SignedUp) -> None:
    for _ in range(5):
        refused(await login(client, user.email, WRONG), "INVALID_CREDENTIALS")
    # Now even the right password waits, from this address...
    rate_limited(await login(client, user.email, PASSWORD), LOGIN_WINDOW)
    # ...and from any other: the limit is the account's.
    async with GraphQLClient.over_asgi(app) as elsewhere:
        rate_limited(await login(elsewhere, user.email.upper(), PASSWORD), LOGIN_WINDOW)
        # Other accounts are not affected.
        other = await elsewhere.register()
        signed_in(await login(client, other.email, PASSWORD))


async def test_four_wrong_passwords_still_let_the_right_one_in(client: GraphQLClient, user: SignedUp) -> None:
    for _ in range(4):
        refused(await login(client, user.email, WRONG), "INVALID_CREDENTIALS")
    signed_in(await login(client, user.email, PASSWORD))


async def test_successful_sign_ins_do_not_count(client: GraphQLClient, user: SignedUp) -> None:
    for _ in range(8):
        signed_in(await login(client, user.email, PASSWORD))


async def test_an_unknown_email_is_limited_exactly_like_a_known_one(client: GraphQLClient,
                                                                    user: SignedUp) -> None:
    unknown = unknown_email()
    for _ in range(5):
        known_error = refused(await login(client, user.email, WRONG), "INVALID_CREDENTIALS")
        unknown_error = refused(await login(client, unknown, WRONG), "INVALID_CREDENTIALS")
        assert known_error == unknown_error
    known_limit = rate_limited(await login(client, user.email, WRONG), LOGIN_WINDOW)
    unknown_limit = rate_limited(await login(client, unknown, WRONG), LOGIN_WINDOW)
    assert {**known_limit, "retryAfter": 0} == {**unknown_limit, "retryAfter": 0}


async def test_one_address_trying_many_accounts_is_limited(client: GraphQLClient, app,  # noqa: ANN001
                                                           user: SignedUp) -> None:
    for _ in range(30):  # one failure each on 30 different accounts: no single account is locked
        refused(await login(client, unknown_email(), WRONG), "INVALID_CREDENTIALS")
    rate_limited(await login(client, user.email, PASSWORD), LOGIN_WINDOW)
    # The account itself is fine from another address.
    async with GraphQLClient.over_asgi(app) as elsewhere:
        signed_in(await login(elsewhere, user.email, PASSWORD))


async def test_the_lock_is_a_window_that_reopens(client: GraphQLClient, resources: Resources,
                                                 user: SignedUp) -> None:
    for _ in range(5):
        await login(client, user.email, WRONG)
    rate_limited(await login(client, user.email, PASSWORD), LOGIN_WINDOW)
    # The 15 minutes pass.
    await resources.redis.delete(f"ratelimit:login:account:{user.email}")
    signed_in(await login(client, user.email, PASSWORD))


# --- password reset --------------------------------------------------------------------------------


async def test_three_reset_requests_per_account_per_hour(client: GraphQLClient, app,  # noqa: ANN001
                                                         resources: Resources, user: SignedUp) -> None:
    outbox: Path = resources.settings.data_dir / "outbox"
    for _ in range(3):
        assert await request_reset(client, user.email) == {"errors": []}
    rate_limited(await request_reset(client, user.email), RESET_WINDOW)
    async with GraphQLClient.over_asgi(app) as elsewhere:
        rate_limited(await request_reset(elsewhere, user.email), RESET_WINDOW)
    assert len(mails_to(outbox, user.email, "Reset your password")) == 3  # the mailbox is not flooded


async def test_reset_limit_answers_the_same_for_an_unknown_email(client: GraphQLClient, user: SignedUp) -> None:
    unknown = unknown_email()
    for _ in range(3):
        assert await request_reset(client, user.email) == await request_reset(client, unknown) == {"errors": []}
    known = rate_limited(await request_reset(client, user.email), RESET_WINDOW)
    other = rate_limited(await request_reset(client, unknown), RESET_WINDOW)
    assert {**known, "retryAfter": 0} == {**other, "retryAfter": 0}


async def test_ten_reset_requests_per_address_per_hour(client: GraphQLClient, app,  # noqa: ANN001
                                                       user: SignedUp) -> None:
    for _ in range(10):
        assert await request_reset(client, unknown_email()) == {"errors": []}
    rate_limited(await request_reset(client, user.email), RESET_WINDOW)
    async with GraphQLClient.over_asgi(app) as elsewhere:
        assert await request_reset(elsewhere, user.email) == {"errors": []}


async def test_a_burst_of_parallel_guesses_gets_no_more_than_five_tries(client: GraphQLClient,
                                                                       user: SignedUp) -> None:
    answers = await asyncio.gather(*(login(client, user.email, WRONG) for _ in range(20)))
    judged = [a for a in answers if a["errors"][0]["code"] == "INVALID_CREDENTIALS"]
    limited = [a for a in answers if a["errors"][0]["code"] == "RATE_LIMITED"]
    assert len(judged) + len(limited) == 20
    assert len(judged) <= 5, f"{len(judged)} passwords were tried"
    rate_limited(await login(client, user.email, PASSWORD), LOGIN_WINDOW)


async def test_a_burst_of_parallel_reset_requests_sends_three_mails(client: GraphQLClient,
                                                                    resources: Resources,
                                                                    user: SignedUp) -> None:
    answers = await asyncio.gather(*(request_reset(client, user.email) for _ in range(9)))
    assert sum(answer == {"errors": []} for answer in answers) == 3
    outbox: Path = resources.settings.data_dir / "outbox"
    assert len(mails_to(outbox, user.email, "Reset your password")) == 3
