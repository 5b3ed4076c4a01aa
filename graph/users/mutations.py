"""The account mutations: signing up and in, sign-in sessions, the profile, and recovery by email."""

from __future__ import annotations

import strawberry

from graph.context import Info
from graph.errors import UserError
from graph.mutations import NOTHING, Answer, Work, mutation, node_answer, signed_in_mutation
from graph.permissions import viewer_id
from graph.users.inputs import (
    ChangePasswordInput,
    ClientMutationInput,
    DeleteAccountInput,
    LoginInput,
    RefreshTokenInput,
    RegisterInput,
    RequestPasswordResetInput,
    ResetPasswordInput,
    UpdatePreferencesInput,
    UpdateProfileInput,
    VerifyEmailInput,
)
from graph.users.types import UserNode
from models import User
from resolvers import users as accounts

USER = node_answer("user", UserNode)
SIGNED_IN_ANSWER: Answer[accounts.SignedIn] = Answer(
    {"user": UserNode | None, "access_token": str | None, "refresh_token": str | None},
    lambda signed: {
        "user": UserNode.from_row(signed.user),
        "access_token": signed.access_token,
        "refresh_token": signed.refresh_token,
    },
)


@strawberry.type
class LogoutEverywherePayload:
    errors: list[UserError] = strawberry.field(default_factory=list)
    revoked_sessions: int = 0

    @classmethod
    def of(cls, revoked: int) -> LogoutEverywherePayload:
        return cls(revoked_sessions=revoked)


def _given(**members: object) -> dict[str, object]:
    return {name: value for name, value in members.items() if value is not None}


def _preferences(data: UpdatePreferencesInput) -> dict[str, object]:
    """The input as a partial preferences document, in the stored camelCase shape."""
    changes: dict[str, object] = {}
    if (notifications := data.notifications) is not None:
        changes["notifications"] = _given(email=notifications.email, push=notifications.push, sms=notifications.sms)
    if (ai := data.ai) is not None:
        changes["ai"] = _given(
            personality=ai.personality.value if ai.personality else None,
            proactiveMode=ai.proactive_mode,
            autoSuggestions=ai.auto_suggestions,
        )
    if (integrations := data.integrations) is not None:
        changes["integrations"] = _given(
            autoConnect=integrations.auto_connect,
            defaultCalendar=integrations.default_calendar,
            defaultEmail=integrations.default_email,
        )
    return changes


@strawberry.type
class UsersMutation:
    @mutation(
        SIGNED_IN_ANSWER,
        description="Create an account and sign in.",
        payload_description="The new account, signed in.",
    )
    def register(self, info: Info, input: RegisterInput) -> Work[accounts.SignedIn]:
        context = info.context
        data = accounts.Registration(
            email=input.email,
            password=input.password,
            first_name=input.first_name,
            last_name=input.last_name,
            business_name=input.business_name,
            business_type=input.business_type,
            phone=input.phone,
            timezone=input.timezone,
        )
        return lambda uow: accounts.register(
            uow.db,
            context.redis,
            context.resources.keys,
            data,
            address=context.client_address,
            per_hour=context.resources.settings.register_per_hour,
        )

    @mutation(SIGNED_IN_ANSWER, description="Sign in with email and password.", payload_description="A new session.")
    def login(self, info: Info, input: LoginInput) -> Work[accounts.SignedIn]:
        context = info.context
        return lambda uow: accounts.login(
            uow.db, context.redis, context.resources.keys, input.email, input.password, address=context.client_address
        )

    @mutation(
        SIGNED_IN_ANSWER,
        description="Trade a refresh token for a new access token and a new refresh token; the one sent stops working.",
        payload_description="A new access token and the refresh token that replaces the one sent.",
    )
    def refresh_token(self, info: Info, input: RefreshTokenInput) -> Work[accounts.SignedIn]:
        keys = info.context.resources.keys
        return lambda uow: accounts.refresh(uow.db, info.context.redis, keys, input.refresh_token)

    @mutation(NOTHING, description="End the session of this refresh token (its sockets close).")
    def logout(self, info: Info, input: RefreshTokenInput) -> Work[None]:
        return lambda uow: accounts.logout(info.context.redis, input.refresh_token)

    @signed_in_mutation(LogoutEverywherePayload, description="End every session of the account.")
    def logout_everywhere(self, info: Info, input: ClientMutationInput | None = None) -> Work[int]:
        return lambda uow: accounts.logout_everywhere(info.context.redis, viewer_id(info))

    @signed_in_mutation(NOTHING, description="Mail a code that proves the address.")
    def request_email_verification(self, info: Info, input: ClientMutationInput | None = None) -> Work[None]:
        context = info.context
        return lambda uow: accounts.request_email_verification(
            uow, context.redis, context.resources.mailer, viewer_id(info), address=context.client_address
        )

    @mutation(USER, description="Confirm an email address with the mailed code (works once).")
    def verify_email(self, info: Info, input: VerifyEmailInput) -> Work[User]:
        return lambda uow: accounts.verify_email(uow.db, info.context.redis, input.token)

    @mutation(
        NOTHING,
        description="Mail a password reset code, if the account exists.",
        payload_description="The same answer whether or not the account exists.",
    )
    def request_password_reset(self, info: Info, input: RequestPasswordResetInput) -> Work[None]:
        context = info.context
        return lambda uow: accounts.request_password_reset(
            uow, context.redis, context.resources.mailer, input.email, address=context.client_address
        )

    @mutation(NOTHING, description="Set a new password with a mailed reset code; signs out everywhere.")
    def reset_password(self, info: Info, input: ResetPasswordInput) -> Work[None]:
        context = info.context
        return lambda uow: accounts.reset_password(
            uow.db, context.redis, input.token, input.new_password, address=context.client_address
        )

    @signed_in_mutation(USER)
    def update_profile(self, info: Info, input: UpdateProfileInput) -> Work[User]:
        business_type = input.business_type
        update = accounts.ProfileUpdate(
            first_name=input.first_name,
            last_name=input.last_name,
            business_name=input.business_name,
            business_type=business_type or None,
            clear_business_type=business_type is None,
            phone=input.phone,
            timezone=input.timezone,
        )
        return lambda uow: accounts.update_profile(uow.db, viewer_id(info), update)

    @signed_in_mutation(USER)
    def update_preferences(self, info: Info, input: UpdatePreferencesInput) -> Work[User]:
        update = accounts.PreferencesUpdate(changes=_preferences(input))
        return lambda uow: accounts.update_preferences(uow.db, viewer_id(info), update)

    @signed_in_mutation(USER, description="Needs the current password; signs out every other session.")
    def change_password(self, info: Info, input: ChangePasswordInput) -> Work[User]:
        viewer = info.context.viewer
        assert viewer is not None
        return lambda uow: accounts.change_password(
            uow.db,
            info.context.redis,
            viewer.user_id,
            input.current_password,
            input.new_password,
            keep_sign_in=viewer.sign_in_id,
            address=info.context.client_address,
        )

    @signed_in_mutation(
        NOTHING,
        description="Needs the password. Sign-in stops, data is hidden, sessions end; "
        "the email stays taken until the retention purge.",
    )
    def delete_account(self, info: Info, input: DeleteAccountInput) -> Work[None]:
        return lambda uow: accounts.delete_account(
            uow.db, info.context.redis, viewer_id(info), input.password, address=info.context.client_address
        )
