"""Email verification and password reset by mailed single-use codes. The codes are read where a developer
reads them: the `.eml` files of the outbox in the data folder."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from pathlib import Path

import asyncpg
import pytest

from services.resources import Resources
from tests.graphql_client import PASSWORD, GraphQLClient, SignedUp
from tests.users.flows import (
    REQUEST_RESET,
    REQUEST_VERIFICATION,
    RESET_PASSWORD,
    VERIFY_EMAIL,
    VIEWER,
    code_in,
    codes,
    login,
    mails_to,
    refresh,
    refused,
    signed_in,
)

VERIFY_SUBJECT = "Confirm your email address"
RESET_SUBJECT = "Reset your password"
NEW_PASSWORD = "Brand-New-Pass7"


@pytest.fixture
def outbox(resources: Resources) -> Path:
    return resources.settings.data_dir / "outbox"


async def request_verification(client: GraphQLClient, user: SignedUp, outbox: Path) -> str:
    answer = (await client.data(REQUEST_VERIFICATION, token=user.token))["requestEmailVerification"]
    assert answer["errors"] == []
    return code_in(mails_to(outbox, user.email, VERIFY_SUBJECT)[-1])


async def verify(client: GraphQLClient, code: str, *, token: str | None = None) -> dict:
    return (await client.data(VERIFY_EMAIL, {"input": {"token": code}}, token=token))["verifyEmail"]


async def request_reset(client: GraphQLClient, email: str) -> dict:
    return (await client.data(REQUEST_RESET, {"input": {"email": email}}))["requestPasswordReset"]


async def reset(client: GraphQLClient, code: str, new_password: str = NEW_PASSWORD) -> dict:
    return (await client.data(RESET_PASSWORD, {"input": {"token": code, "newPassword": new_password}}))["resetPassword"]


def redis_key(purpose: str, code: str) -> str:
    return f"{purpose}:{hashlib.sha256(code.encode()).hexdigest()}"


# --- email verification -------------------------------------------------------------------------------


async def test_verification_code_is_mailed_and_verifies_the_address(
    client: GraphQLClient, outbox: Path, pg: asyncpg.Connection, user: SignedUp
) -> None:
    before = (await client.data(VIEWER, token=user.token))["viewer"]
    assert before["emailVerified"] is False and before["emailVerifiedAt"] is None

    code = await request_verification(client, user, outbox)
    mail = mails_to(outbox, user.email, VERIFY_SUBJECT)[-1]
    assert "Ada" in mail.get_content()

    answer = await verify(client, code)  # from the mail link: no sign-in needed
    assert answer["errors"] == []
    assert answer["user"]["emailVerified"] is True and answer["user"]["emailVerifiedAt"] is not None
    row = await pg.fetchrow("SELECT email_verified, email_verified_at FROM users WHERE id = $1", user.pk)
    assert row["email_verified"] is True and row["email_verified_at"] is not None
    after = (await client.data(VIEWER, token=user.token))["viewer"]
    assert after["emailVerified"] is True and after["emailVerifiedAt"] is not None


async def test_verification_code_works_once(client: GraphQLClient, outbox: Path, user: SignedUp) -> None:
    code = await request_verification(client, user, outbox)
    assert (await verify(client, code))["errors"] == []
    again = await verify(client, code)
    assert again["user"] is None
    assert codes(again) == {"input.token": "INVALID"}


async def test_verification_code_expires(
    client: GraphQLClient, outbox: Path, resources: Resources, pg: asyncpg.Connection, user: SignedUp
) -> None:
    code = await request_verification(client, user, outbox)
    key = redis_key("verify-email", code)
    assert 23 * 3600 < await resources.redis.ttl(key) <= 24 * 3600  # a day to click it
    await resources.redis.pexpire(key, 50)
    await asyncio.sleep(0.2)

    answer = await verify(client, code)
    assert codes(answer) == {"input.token": "INVALID"}
    assert await pg.fetchval("SELECT email_verified FROM users WHERE id = $1", user.pk) is False


async def test_a_made_up_verification_code_is_refused(client: GraphQLClient) -> None:
    assert codes(await verify(client, "made-up")) == {"input.token": "INVALID"}


async def test_verified_address_cannot_ask_again(client: GraphQLClient, outbox: Path, user: SignedUp) -> None:
    assert (await verify(client, await request_verification(client, user, outbox)))["errors"] == []
    answer = (await client.data(REQUEST_VERIFICATION, token=user.token))["requestEmailVerification"]
    assert codes(answer) == {None: "INVALID_STATE"}
    assert len(mails_to(outbox, user.email, VERIFY_SUBJECT)) == 1


async def test_codes_are_not_interchangeable_between_purposes(
    client: GraphQLClient, outbox: Path, user: SignedUp
) -> None:
    verification = await request_verification(client, user, outbox)
    assert (await request_reset(client, user.email))["errors"] == []
    reset_code = code_in(mails_to(outbox, user.email, RESET_SUBJECT)[-1])

    assert codes(await verify(client, reset_code)) == {"input.token": "INVALID"}
    assert codes(await reset(client, verification)) == {"input.token": "INVALID"}
    # Neither was spent by the wrong use.
    assert (await verify(client, verification))["errors"] == []
    assert (await reset(client, reset_code))["errors"] == []


# --- password reset -----------------------------------------------------------------------------------


async def test_reset_answers_the_same_whether_or_not_the_account_exists(
    client: GraphQLClient, outbox: Path, user: SignedUp
) -> None:
    unknown = f"nobody-{uuid.uuid4().hex[:10]}@example.com"
    known_answer = await request_reset(client, user.email)
    unknown_answer = await request_reset(client, unknown)
    assert known_answer == unknown_answer == {"errors": []}
    assert len(mails_to(outbox, user.email, RESET_SUBJECT)) == 1
    assert mails_to(outbox, unknown) == []


async def test_reset_sets_the_new_password_and_signs_out_everywhere(
    client: GraphQLClient, outbox: Path, user: SignedUp
) -> None:
    other = signed_in(await login(client, user.email, PASSWORD))
    assert (await request_reset(client, user.email.upper()))["errors"] == []  # any case of the address
    code = code_in(mails_to(outbox, user.email, RESET_SUBJECT)[-1])

    assert (await reset(client, code))["errors"] == []
    refused(await login(client, user.email, PASSWORD), "INVALID_CREDENTIALS")
    signed_in(await login(client, user.email, NEW_PASSWORD))
    for refresh_token in (user.refresh_token, other["refreshToken"]):
        refused(await refresh(client, refresh_token), "UNAUTHENTICATED")


async def test_a_successful_reset_lifts_the_sign_in_lock(client: GraphQLClient, outbox: Path, user: SignedUp) -> None:
    for _ in range(5):  # the (account, address) limit: locked, with back-off
        refused(await login(client, user.email, "Wrong-Pass9"), "INVALID_CREDENTIALS")
    refused(await login(client, user.email, PASSWORD), "RATE_LIMITED")
    await request_reset(client, user.email)
    code = code_in(mails_to(outbox, user.email, RESET_SUBJECT)[-1])

    assert (await reset(client, code))["errors"] == []

    signed_in(await login(client, user.email, NEW_PASSWORD))  # at once, from the same address


async def test_reset_code_works_once(client: GraphQLClient, outbox: Path, user: SignedUp) -> None:
    await request_reset(client, user.email)
    code = code_in(mails_to(outbox, user.email, RESET_SUBJECT)[-1])
    assert (await reset(client, code))["errors"] == []
    assert codes(await reset(client, code, "Another-Pass8")) == {"input.token": "INVALID"}
    refused(await login(client, user.email, "Another-Pass8"), "INVALID_CREDENTIALS")
    signed_in(await login(client, user.email, NEW_PASSWORD))


async def test_reset_code_expires(client: GraphQLClient, outbox: Path, resources: Resources, user: SignedUp) -> None:
    await request_reset(client, user.email)
    code = code_in(mails_to(outbox, user.email, RESET_SUBJECT)[-1])
    key = redis_key("reset-password", code)
    assert 3500 < await resources.redis.ttl(key) <= 3600  # an hour to use it
    await resources.redis.pexpire(key, 50)
    await asyncio.sleep(0.2)

    assert codes(await reset(client, code)) == {"input.token": "INVALID"}
    signed_in(await login(client, user.email, PASSWORD))


async def test_a_weak_new_password_is_refused_and_the_code_keeps_its_deadline(
    client: GraphQLClient, outbox: Path, resources: Resources, user: SignedUp
) -> None:
    await request_reset(client, user.email)
    code = code_in(mails_to(outbox, user.email, RESET_SUBJECT)[-1])
    key = redis_key("reset-password", code)
    await resources.redis.expire(key, 120)  # the hour is nearly over

    assert codes(await reset(client, code, "weak")) == {"input.newPassword": "WEAK_PASSWORD"}
    assert codes(await reset(client, code, user.email)) == {"input.newPassword": "WEAK_PASSWORD"}
    signed_in(await login(client, user.email, PASSWORD))  # nothing changed
    assert 0 < await resources.redis.ttl(key) <= 120  # a refusal does not extend the link's life
    assert (await reset(client, code))["errors"] == []
    signed_in(await login(client, user.email, NEW_PASSWORD))


async def test_a_made_up_reset_code_is_refused(client: GraphQLClient, user: SignedUp) -> None:
    assert codes(await reset(client, "made-up")) == {"input.token": "INVALID"}
    signed_in(await login(client, user.email, PASSWORD))


async def test_a_deleted_account_gets_no_reset_mail(
    client: GraphQLClient, outbox: Path, pg: asyncpg.Connection, user: SignedUp
) -> None:
    await pg.execute("UPDATE users SET deleted_at = now() WHERE id = $1", user.pk)
    assert await request_reset(client, user.email) == {"errors": []}
    assert mails_to(outbox, user.email, RESET_SUBJECT) == []


async def test_two_resets_racing_with_one_code_change_the_password_once(
    client: GraphQLClient, outbox: Path, user: SignedUp
) -> None:
    await request_reset(client, user.email)
    code = code_in(mails_to(outbox, user.email, RESET_SUBJECT)[-1])
    first, second = await asyncio.gather(reset(client, code, "First-Pass1"), reset(client, code, "Second-Pass2"))
    assert sorted([codes(first), codes(second)], key=len) == [{}, {"input.token": "INVALID"}]
    winner, loser = ("First-Pass1", "Second-Pass2") if first["errors"] == [] else ("Second-Pass2", "First-Pass1")
    signed_in(await login(client, user.email, winner))
    refused(await login(client, user.email, loser), "INVALID_CREDENTIALS")


async def test_without_redis_mail_codes_answer_unavailable(
    without_redis: GraphQLClient, outbox: Path, pg: asyncpg.Connection, user: SignedUp
) -> None:
    answer = (await without_redis.data(REQUEST_VERIFICATION, token=user.token))["requestEmailVerification"]
    assert codes(answer) == {None: "UNAVAILABLE"}
    assert codes(await verify(without_redis, "any-code")) == {None: "UNAVAILABLE"}
    assert codes(await request_reset(without_redis, user.email)) == {None: "UNAVAILABLE"}
    assert codes(await reset(without_redis, "any-code")) == {None: "UNAVAILABLE"}
    assert mails_to(outbox, user.email) == []  # no mail with a code that was never stored
    assert await pg.fetchval("SELECT email_verified FROM users WHERE id = $1", user.pk) is False
