"""Abuse limits in Redis: failed password checks (sign-in, changePassword, deleteAccount) per (account,
address) (5 per 15 min, then doubling locks), per account (50 per hour, across addresses) and per
client address (30 per 15 min); password-reset requests per account (3 per hour) and per address (10
per hour); sign-ups per address (GATEWAY_REGISTER_PER_HOUR, 20). A limited attempt is a RATE_LIMITED
payload error with retryAfter; an unknown email is limited like a known one."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg

from services import ratelimit
from services.resources import Resources
from tests.graphql_client import PASSWORD, GraphQLClient, SignedUp
from tests.users.flows import CHANGE_PASSWORD, DELETE_ACCOUNT, REQUEST_RESET, login, mails_to, refused, signed_in

WRONG = "Wrong-Horse-1"
REGISTER = """mutation($input: RegisterInput!) { register(input: $input) {
  user { id } accessToken refreshToken errors { field code message retryAfter } } }"""
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


async def test_five_wrong_passwords_lock_the_account_for_a_while(client: GraphQLClient, app, user: SignedUp) -> None:
    for _ in range(5):
        refused(await login(client, user.email, WRONG), "INVALID_CREDENTIALS")
    # Now even the right password waits, from this address...
    rate_limited(await login(client, user.email.upper(), PASSWORD), LOGIN_WINDOW)
    # ...but a stranger's failures do not lock the owner out: from another address it signs in.
    async with GraphQLClient.over_asgi(app) as elsewhere:
        signed_in(await login(elsewhere, user.email, PASSWORD))
        # Other accounts are not affected, from here either.
        other = await elsewhere.register()
        signed_in(await login(client, other.email, PASSWORD))


async def test_four_wrong_passwords_still_let_the_right_one_in(client: GraphQLClient, user: SignedUp) -> None:
    for _ in range(4):
        refused(await login(client, user.email, WRONG), "INVALID_CREDENTIALS")
    signed_in(await login(client, user.email, PASSWORD))


async def test_successful_sign_ins_do_not_count(client: GraphQLClient, user: SignedUp) -> None:
    for _ in range(8):
        signed_in(await login(client, user.email, PASSWORD))


async def test_an_unknown_email_is_limited_exactly_like_a_known_one(client: GraphQLClient, user: SignedUp) -> None:
    unknown = unknown_email()
    for _ in range(5):
        known_error = refused(await login(client, user.email, WRONG), "INVALID_CREDENTIALS")
        unknown_error = refused(await login(client, unknown, WRONG), "INVALID_CREDENTIALS")
        assert known_error == unknown_error
    known_limit = rate_limited(await login(client, user.email, WRONG), LOGIN_WINDOW)
    unknown_limit = rate_limited(await login(client, unknown, WRONG), LOGIN_WINDOW)
    assert {**known_limit, "retryAfter": 0} == {**unknown_limit, "retryAfter": 0}


async def test_one_address_trying_many_accounts_is_limited(client: GraphQLClient, app, user: SignedUp) -> None:
    for _ in range(30):  # one failure each on 30 different accounts: no single account is locked
        refused(await login(client, unknown_email(), WRONG), "INVALID_CREDENTIALS")
    rate_limited(await login(client, user.email, PASSWORD), LOGIN_WINDOW)
    # The account itself is fine from another address.
    async with GraphQLClient.over_asgi(app) as elsewhere:
        signed_in(await login(elsewhere, user.email, PASSWORD))


async def test_the_lock_is_a_window_that_reopens(client: GraphQLClient, resources: Resources, user: SignedUp) -> None:
    for _ in range(5):
        await login(client, user.email, WRONG)
    rate_limited(await login(client, user.email, PASSWORD), LOGIN_WINDOW)
    # The 15 minutes pass.
    await resources.redis.delete(
        ratelimit.key(ratelimit.PASSWORD_PER_ACCOUNT_ADDRESS, ratelimit.pair(user.email, client.address))
    )
    signed_in(await login(client, user.email, PASSWORD))


# --- password reset --------------------------------------------------------------------------------


async def test_three_reset_requests_per_account_per_hour(
    client: GraphQLClient, app, resources: Resources, user: SignedUp
) -> None:
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


async def test_ten_reset_requests_per_address_per_hour(client: GraphQLClient, app, user: SignedUp) -> None:
    for _ in range(10):
        assert await request_reset(client, unknown_email()) == {"errors": []}
    rate_limited(await request_reset(client, user.email), RESET_WINDOW)
    async with GraphQLClient.over_asgi(app) as elsewhere:
        assert await request_reset(elsewhere, user.email) == {"errors": []}


async def test_a_burst_of_parallel_guesses_gets_no_more_than_five_tries(client: GraphQLClient, user: SignedUp) -> None:
    answers = await asyncio.gather(*(login(client, user.email, WRONG) for _ in range(20)))
    judged = [a for a in answers if a["errors"][0]["code"] == "INVALID_CREDENTIALS"]
    limited = [a for a in answers if a["errors"][0]["code"] == "RATE_LIMITED"]
    assert len(judged) + len(limited) == 20
    assert len(judged) <= 5, f"{len(judged)} passwords were tried"
    rate_limited(await login(client, user.email, PASSWORD), LOGIN_WINDOW)


async def test_a_burst_of_parallel_reset_requests_sends_three_mails(
    client: GraphQLClient, resources: Resources, user: SignedUp
) -> None:
    answers = await asyncio.gather(*(request_reset(client, user.email) for _ in range(9)))
    assert sum(answer == {"errors": []} for answer in answers) == 3
    outbox: Path = resources.settings.data_dir / "outbox"
    assert len(mails_to(outbox, user.email, "Reset your password")) == 3


# --- every password check, and a stranger's failures -------------------------------------------------


async def change_password(client: GraphQLClient, user: SignedUp, current: str) -> dict:
    variables = {"input": {"currentPassword": current, "newPassword": "Other-Horse-8"}}
    return (await client.data(CHANGE_PASSWORD, variables, token=user.token))["changePassword"]


async def delete_account(client: GraphQLClient, user: SignedUp, password: str) -> dict:
    return (await client.data(DELETE_ACCOUNT, {"input": {"password": password}}, token=user.token))["deleteAccount"]


def judged_and_limited(answers: list[dict], wrong_field: str) -> tuple[int, int]:
    judged = limited = 0
    for answer in answers:
        [error] = answer["errors"]
        if error["code"] == "INVALID_CREDENTIALS":
            assert error["field"] == wrong_field
            judged += 1
        else:
            rate_limited(answer, LOGIN_WINDOW)
            limited += 1
    return judged, limited


async def test_twenty_wrong_current_passwords_get_rate_limited(client: GraphQLClient, app, user: SignedUp) -> None:
    answers = [await change_password(client, user, WRONG) for _ in range(20)]
    assert judged_and_limited(answers, "input.currentPassword") == (5, 15)
    # Even the right one waits now, and nothing changed.
    rate_limited(await change_password(client, user, PASSWORD), LOGIN_WINDOW)
    assert (await login(client, user.email, PASSWORD))["errors"][0]["code"] == "RATE_LIMITED"
    async with GraphQLClient.over_asgi(app) as elsewhere:
        signed_in(await login(elsewhere, user.email, PASSWORD))


async def test_twenty_wrong_passwords_for_deletion_get_rate_limited(
    client: GraphQLClient, user: SignedUp, pg: asyncpg.Connection
) -> None:
    answers = await asyncio.gather(*(delete_account(client, user, WRONG) for _ in range(20)))
    judged, limited = judged_and_limited(list(answers), "input.password")
    assert judged <= 5 and judged + limited == 20 and limited >= 15
    rate_limited(await delete_account(client, user, PASSWORD), LOGIN_WINDOW)
    assert await pg.fetchval("SELECT deleted_at FROM users WHERE id = $1", user.pk) is None


async def test_sign_in_and_password_changes_share_one_count(client: GraphQLClient, user: SignedUp) -> None:
    for _ in range(3):
        refused(await login(client, user.email, WRONG), "INVALID_CREDENTIALS")
    for _ in range(2):
        assert (await change_password(client, user, WRONG))["errors"][0]["code"] == "INVALID_CREDENTIALS"
    rate_limited(await login(client, user.email, PASSWORD), LOGIN_WINDOW)


async def test_a_strangers_failures_do_not_lock_the_owner_out(app, user: SignedUp) -> None:
    async with GraphQLClient.over_asgi(app) as stranger, GraphQLClient.over_asgi(app) as owner:
        for _ in range(8):
            await login(stranger, user.email, WRONG)
        rate_limited(await login(stranger, user.email, PASSWORD), LOGIN_WINDOW)
        signed_in(await login(owner, user.email, PASSWORD))
        # The owner's own session works too (changing the password from the owner's address).
        assert (await change_password(owner, user, PASSWORD))["errors"] == []


async def test_each_new_lock_of_one_address_lasts_twice_as_long(
    client: GraphQLClient, resources: Resources, user: SignedUp
) -> None:
    counter = ratelimit.key(ratelimit.PASSWORD_PER_ACCOUNT_ADDRESS, ratelimit.pair(user.email, client.address))
    waits = []
    for _ in range(3):
        for _ in range(5):
            refused(await login(client, user.email, WRONG), "INVALID_CREDENTIALS")
        waits.append(rate_limited(await login(client, user.email, PASSWORD), 24 * 60 * 60)["retryAfter"])
        await resources.redis.delete(counter)  # the lock runs out
    assert LOGIN_WINDOW - 5 <= waits[0] <= LOGIN_WINDOW
    assert 2 * LOGIN_WINDOW - 5 <= waits[1] <= 2 * LOGIN_WINDOW
    assert 4 * LOGIN_WINDOW - 5 <= waits[2] <= 4 * LOGIN_WINDOW
    # The right password from there forgets the strikes: the next lock is back to 15 minutes.
    signed_in(await login(client, user.email, PASSWORD))
    for _ in range(5):
        refused(await login(client, user.email, WRONG), "INVALID_CREDENTIALS")
    assert rate_limited(await login(client, user.email, PASSWORD), LOGIN_WINDOW)["retryAfter"] <= LOGIN_WINDOW


async def test_fifty_failures_an_hour_lock_the_account_from_every_address(app, user: SignedUp) -> None:
    async def five_failures() -> None:
        async with GraphQLClient.over_asgi(app) as somewhere:
            for _ in range(5):
                refused(await login(somewhere, user.email, WRONG), "INVALID_CREDENTIALS")

    await asyncio.gather(*(five_failures() for _ in range(10)))
    async with GraphQLClient.over_asgi(app) as owner:
        rate_limited(await login(owner, user.email, PASSWORD), 60 * 60)
        other = await owner.register()  # other accounts are not affected
        signed_in(await login(owner, other.email, PASSWORD))


# --- sign-ups ----------------------------------------------------------------------------------------


async def test_the_twenty_first_sign_up_from_one_address_is_rate_limited(
    client: GraphQLClient, app, pg: asyncpg.Connection
) -> None:
    for _ in range(20):
        await client.register()
    email = unknown_email()
    fields = {"email": email, "password": PASSWORD, "firstName": "Ada", "lastName": "Lovelace"}
    answer = (await client.data(REGISTER, {"input": fields}))["register"]
    assert answer["user"] is None and answer["accessToken"] is None
    rate_limited(answer, 60 * 60)
    assert await pg.fetchval("SELECT count(*) FROM users WHERE email = $1", email) == 0
    async with GraphQLClient.over_asgi(app) as elsewhere:
        await elsewhere.register(email=email)
