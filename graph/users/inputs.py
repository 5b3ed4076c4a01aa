"""Inputs of the account mutations."""

from __future__ import annotations

import strawberry

from graph.enums import AiPersonality, BusinessType
from graph.input_limits import EMAIL, NAME, PASSWORD, PHONE, TIMEZONE, TITLE, TOKEN, limited


@strawberry.input
class RegisterInput:
    email: str = limited(EMAIL)
    password: str = limited(PASSWORD)
    first_name: str = limited(NAME)
    last_name: str = limited(NAME)
    business_name: str | None = limited(TITLE, default=None)
    business_type: BusinessType | None = None
    phone: str | None = limited(PHONE, default=None, description="International format, e.g. +61299990000.")
    timezone: str | None = limited(TIMEZONE, default=None, description="IANA name; Australia/Sydney if unset.")


@strawberry.input
class LoginInput:
    email: str = limited(EMAIL)
    password: str = limited(PASSWORD)


@strawberry.input
class RefreshTokenInput:
    refresh_token: str = limited(TOKEN)


@strawberry.input
class ClientMutationInput:
    """The input of a mutation that needs none but the client's own mark."""

    client_mutation_id: str | None = limited(NAME, default=None)


@strawberry.input
class VerifyEmailInput:
    token: str = limited(TOKEN)


@strawberry.input
class RequestPasswordResetInput:
    email: str = limited(EMAIL)


@strawberry.input
class ResetPasswordInput:
    token: str = limited(TOKEN)
    new_password: str = limited(PASSWORD)


@strawberry.input(description="Only the fields given change; an empty string clears an optional one.")
class UpdateProfileInput:
    first_name: str | None = limited(NAME, default=None)
    last_name: str | None = limited(NAME, default=None)
    business_name: str | None = limited(TITLE, default=None)
    business_type: BusinessType | None = strawberry.UNSET
    phone: str | None = limited(PHONE, default=None)
    timezone: str | None = limited(TIMEZONE, default=None)


@strawberry.input
class NotificationPreferencesInput:
    email: bool | None = None
    push: bool | None = None
    sms: bool | None = None


@strawberry.input
class AiPreferencesInput:
    personality: AiPersonality | None = None
    proactive_mode: bool | None = None
    auto_suggestions: bool | None = None


@strawberry.input
class IntegrationPreferencesInput:
    auto_connect: bool | None = None
    default_calendar: str | None = limited(TITLE, default=None)
    default_email: str | None = limited(EMAIL, default=None)


@strawberry.input(description="Merged over the stored preferences: what is not given stays as it is.")
class UpdatePreferencesInput:
    notifications: NotificationPreferencesInput | None = None
    ai: AiPreferencesInput | None = None
    integrations: IntegrationPreferencesInput | None = None


@strawberry.input
class ChangePasswordInput:
    current_password: str = limited(PASSWORD)
    new_password: str = limited(PASSWORD)


@strawberry.input
class DeleteAccountInput:
    password: str = limited(PASSWORD)
