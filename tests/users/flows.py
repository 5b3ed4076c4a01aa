"""The account mutations as a client sends them, and the places a user would look: the mail outbox,
the token's own claims."""

from __future__ import annotations

import base64
import email
import email.policy
import json
from pathlib import Path
from typing import Any

from tests.graphql_client import GraphQLClient

USER_FIELDS = "id email firstName lastName emailVerified emailVerifiedAt lastLoginAt role"
SIGN_IN_FIELDS = f"user {{ {USER_FIELDS} }} accessToken refreshToken errors {{ field code message retryAfter }}"
ERRORS = "errors { field code message retryAfter }"

LOGIN = f"mutation($input: LoginInput!) {{ login(input: $input) {{ {SIGN_IN_FIELDS} }} }}"
REFRESH = f"mutation($input: RefreshTokenInput!) {{ refreshToken(input: $input) {{ {SIGN_IN_FIELDS} }} }}"
LOGOUT = f"mutation($input: LogoutInput!) {{ logout(input: $input) {{ {ERRORS} }} }}"
LOGOUT_EVERYWHERE = f"mutation {{ logoutEverywhere {{ revokedSessions {ERRORS} }} }}"
REQUEST_VERIFICATION = f"mutation {{ requestEmailVerification {{ {ERRORS} }} }}"
VERIFY_EMAIL = (
    f"mutation($input: VerifyEmailInput!) {{ verifyEmail(input: $input) {{ user {{ {USER_FIELDS} }} {ERRORS} }} }}"
)
REQUEST_RESET = f"mutation($input: RequestPasswordResetInput!) {{ requestPasswordReset(input: $input) {{ {ERRORS} }} }}"
RESET_PASSWORD = f"mutation($input: ResetPasswordInput!) {{ resetPassword(input: $input) {{ {ERRORS} }} }}"
PROFILE_FIELDS = "id firstName lastName businessName businessType phone timezone updatedAt"
UPDATE_PROFILE = (
    f"mutation($input: UpdateProfileInput!) {{ updateProfile(input: $input) "
    f"{{ user {{ {PROFILE_FIELDS} }} {ERRORS} }} }}"
)
PREFERENCES_FIELDS = """preferences {
  notifications { email push sms }
  ai { personality proactiveMode autoSuggestions }
  integrations { autoConnect defaultCalendar defaultEmail }
}"""
UPDATE_PREFERENCES = (
    f"mutation($input: UpdatePreferencesInput!) {{ updatePreferences(input: $input) "
    f"{{ user {{ id {PREFERENCES_FIELDS} }} {ERRORS} }} }}"
)
CHANGE_PASSWORD = (
    f"mutation($input: ChangePasswordInput!) {{ changePassword(input: $input) {{ user {{ id }} {ERRORS} }} }}"
)
DELETE_ACCOUNT = f"mutation($input: DeleteAccountInput!) {{ deleteAccount(input: $input) {{ {ERRORS} }} }}"
VIEWER = f"{{ viewer {{ {USER_FIELDS} }} }}"


async def login(client: GraphQLClient, email_address: str, password: str) -> dict[str, Any]:
    return (await client.data(LOGIN, {"input": {"email": email_address, "password": password}}))["login"]


async def refresh(client: GraphQLClient, refresh_token: str) -> dict[str, Any]:
    return (await client.data(REFRESH, {"input": {"refreshToken": refresh_token}}))["refreshToken"]


async def logout(client: GraphQLClient, refresh_token: str) -> dict[str, Any]:
    return (await client.data(LOGOUT, {"input": {"refreshToken": refresh_token}}))["logout"]


def signed_in(payload: dict[str, Any]) -> dict[str, Any]:
    assert payload["errors"] == [], payload["errors"]
    assert payload["accessToken"] and payload["refreshToken"]
    return payload


def refused(payload: dict[str, Any], code: str) -> dict[str, Any]:
    """The single payload error of a refused sign-in/refresh, which hands out no tokens."""
    assert payload.get("accessToken") is None and payload.get("refreshToken") is None, payload
    assert [error["code"] for error in payload["errors"]] == [code], payload["errors"]
    return payload["errors"][0]


def codes(payload: dict[str, Any]) -> dict[str | None, str]:
    return {error["field"]: error["code"] for error in payload["errors"]}


def jose_part(segment: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def token_header(token: str) -> dict[str, Any]:
    return jose_part(token.split(".")[0])


def token_claims(token: str) -> dict[str, Any]:
    return jose_part(token.split(".")[1])


def sign_in_id(access_token: str) -> str:
    return str(token_claims(access_token)["sid"])


def unauthenticated(body: dict[str, Any]) -> bool:
    return any(error.get("extensions", {}).get("code") == "UNAUTHENTICATED" for error in body.get("errors", []))


def mails_to(outbox: Path, address: str, subject: str | None = None) -> list[email.message.EmailMessage]:
    """Messages in the developer outbox for this address (oldest first)."""
    if not outbox.exists():
        return []
    found = []
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["To"] == address and (subject is None or message["Subject"] == subject):
            found.append(message)
    return found


def code_in(message: email.message.EmailMessage) -> str:
    """The one-time code of a verification or reset mail: the line after "...with this code:"."""
    lines = [line.strip() for line in message.get_content().splitlines()]
    start = next(index for index, line in enumerate(lines) if line.endswith("with this code:"))
    return next(line for line in lines[start + 1 :] if line)
