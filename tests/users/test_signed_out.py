"""Sign-out means signed out: once a sign-in session ends (logout, logoutEverywhere, a password change or
reset, a reused refresh token) its access tokens are refused over HTTP at once, not only on sockets.
Verification mails are rate-limited; the developer outbox is private; production needs SMTP."""

from __future__ import annotations

import base64
import logging
import os
import stat
import subprocess
from pathlib import Path

import pytest

from gateway.settings import Settings
from services.resources import Resources
from tests.conftest import signing_keys_json
from tests.graphql_client import PASSWORD, GraphQLClient, SignedUp
from tests.live import GATEWAY, free_port, gateway_env
from tests.users.flows import (
    CHANGE_PASSWORD,
    LOGOUT_EVERYWHERE,
    REQUEST_RESET,
    REQUEST_VERIFICATION,
    RESET_PASSWORD,
    code_in,
    login,
    logout,
    mails_to,
    refresh,
    refused,
    signed_in,
    unauthenticated,
)

VIEWER = "{ viewer { id } }"
NEW_PASSWORD = "Other-Horse-8"


async def works(client: GraphQLClient, token: str, user: SignedUp) -> bool:
    body = await client.execute(VIEWER, token=token)
    return "errors" not in body and body["data"]["viewer"] == {"id": user.id}


async def is_refused(client: GraphQLClient, token: str) -> bool:
    body = await client.execute(VIEWER, token=token)
    return unauthenticated(body) and body.get("data") is None


async def test_logout_refuses_that_sessions_access_token_at_once(client: GraphQLClient, user: SignedUp) -> None:
    other = signed_in(await login(client, user.email, PASSWORD))
    assert await works(client, user.token, user)
    assert (await logout(client, user.refresh_token))["errors"] == []
    assert await is_refused(client, user.token)
    body = await client.execute(
        CHANGE_PASSWORD, {"input": {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}}, token=user.token
    )
    assert unauthenticated(body)
    assert await works(client, other["accessToken"], user)


async def test_logout_everywhere_refuses_every_access_token(client: GraphQLClient, user: SignedUp) -> None:
    second = signed_in(await login(client, user.email, PASSWORD))
    bystander = await client.register()
    assert (await client.data(LOGOUT_EVERYWHERE, token=second["accessToken"]))["logoutEverywhere"]["errors"] == []
    assert await is_refused(client, user.token)
    assert await is_refused(client, second["accessToken"])
    assert await works(client, bystander.token, bystander)
    assert await works(client, signed_in(await login(client, user.email, PASSWORD))["accessToken"], user)


async def test_a_password_change_refuses_the_other_sessions_tokens(client: GraphQLClient, user: SignedUp) -> None:
    other = signed_in(await login(client, user.email, PASSWORD))
    answer = await client.data(
        CHANGE_PASSWORD, {"input": {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}}, token=user.token
    )
    assert answer["changePassword"]["errors"] == []
    assert await is_refused(client, other["accessToken"])
    assert await works(client, user.token, user)  # the session that changed it stays signed in


async def test_a_reused_refresh_token_refuses_the_sessions_access_tokens(client: GraphQLClient, user: SignedUp) -> None:
    rotated = signed_in(await refresh(client, user.refresh_token))
    assert await works(client, rotated["accessToken"], user)
    refused(await refresh(client, user.refresh_token), "UNAUTHENTICATED")  # the spent one, again: theft
    assert await is_refused(client, rotated["accessToken"])
    assert await is_refused(client, user.token)


async def test_a_password_reset_refuses_every_access_token(
    client: GraphQLClient, resources: Resources, user: SignedUp
) -> None:
    assert (await client.data(REQUEST_RESET, {"input": {"email": user.email}}))["requestPasswordReset"]["errors"] == []
    [mail] = mails_to(resources.settings.data_dir / "outbox", user.email, "Reset your password")
    variables = {"input": {"token": code_in(mail), "newPassword": NEW_PASSWORD}}
    assert (await client.data(RESET_PASSWORD, variables))["resetPassword"]["errors"] == []
    assert await is_refused(client, user.token)


async def test_without_redis_access_tokens_keep_working(
    without_redis: GraphQLClient, user: SignedUp, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="gateway.graph"):
        assert await works(without_redis, user.token, user)
    assert any("revocation" in record.getMessage() for record in caplog.records)


# --- verification mails ------------------------------------------------------------------------------


async def request_verification(client: GraphQLClient, user: SignedUp) -> dict:
    return (await client.data(REQUEST_VERIFICATION, token=user.token))["requestEmailVerification"]


def limited(answer: dict) -> None:
    [error] = answer["errors"]
    assert error["code"] == "RATE_LIMITED" and 0 < error["retryAfter"] <= 3600, error


async def test_three_verification_mails_per_account_an_hour(
    client: GraphQLClient, app, resources: Resources, user: SignedUp
) -> None:
    for _ in range(3):
        assert await request_verification(client, user) == {"errors": []}
    limited(await request_verification(client, user))
    async with GraphQLClient.over_asgi(app) as elsewhere:
        limited(await request_verification(elsewhere, user))
    outbox = resources.settings.data_dir / "outbox"
    assert len(mails_to(outbox, user.email, "Confirm your email address")) == 3


async def test_ten_verification_mails_per_address_an_hour(client: GraphQLClient, app) -> None:
    users = [await client.register() for _ in range(4)]
    answers = [await request_verification(client, users[index // 3]) for index in range(10)]
    assert all(answer == {"errors": []} for answer in answers)
    limited(await request_verification(client, users[3]))
    async with GraphQLClient.over_asgi(app) as elsewhere:
        assert await request_verification(elsewhere, users[3]) == {"errors": []}


async def test_outbox_mails_are_readable_by_the_server_only(
    client: GraphQLClient, resources: Resources, user: SignedUp
) -> None:
    old = os.umask(0)  # the most permissive umask: the mode must be the file's own
    try:
        assert await request_verification(client, user) == {"errors": []}
    finally:
        os.umask(old)
    outbox = resources.settings.data_dir / "outbox"
    files = [path for path in outbox.glob("*.eml") if user.email in path.read_text()]
    assert files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, oct(path.stat().st_mode)


# --- production needs SMTP ---------------------------------------------------------------------------


def test_production_settings_without_smtp_are_refused(tmp_path: Path) -> None:
    from services.resources import mailer as load_mailer

    production = Settings(GATEWAY_ENV="production", GATEWAY_DATA_DIR=str(tmp_path))
    with pytest.raises(SystemExit, match="GATEWAY_SMTP_URL is required in production"):
        load_mailer(production)
    assert load_mailer(
        Settings(
            GATEWAY_ENV="production", GATEWAY_DATA_DIR=str(tmp_path), GATEWAY_SMTP_URL="smtp://mail.example.com:25"
        )
    ).smtp_url
    assert load_mailer(Settings(GATEWAY_DATA_DIR=str(tmp_path))).smtp_url is None  # development: the outbox


def test_gateway_serve_in_production_refuses_to_start_without_smtp(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    encryption_keys = f"k1:{base64.b64encode(os.urandom(32)).decode()}"
    env = gateway_env(
        database_url.replace("+asyncpg", ""),
        redis_url,
        tmp_path,
        GATEWAY_ENV="production",
        GATEWAY_JWT_PRIVATE_KEYS=signing_keys_json(),
        GATEWAY_ENCRYPTION_KEYS=encryption_keys,
    )
    run = subprocess.run(
        [GATEWAY, "serve", "--no-migrate", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0
    assert "GATEWAY_SMTP_URL is required in production" in run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
