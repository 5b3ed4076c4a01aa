"""The users domain's roots: `viewer` and the account mutations."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import strawberry

from graph.context import Info
from graph.mutations import mutate
from graph.permissions import IsAuthenticated
from graph.users import inputs as i
from graph.users.types import UserNode
from models.users import AiPersonality, BusinessType
from resolvers import users as accounts

SIGNED_IN = [IsAuthenticated]
SignedInPayload = TypeVar("SignedInPayload", i.RegisterPayload, i.LoginPayload, i.RefreshTokenPayload)


def _preferences(data: i.UpdatePreferencesInput) -> dict[str, object]:
    """The input as a partial preferences document, in the stored camelCase shape."""
    changes: dict[str, object] = {}
    if data.notifications is not None:
        changes["notifications"] = {
            k: v
            for k, v in {
                "email": data.notifications.email,
                "push": data.notifications.push,
                "sms": data.notifications.sms,
            }.items()
            if v is not None
        }
    if data.ai is not None:
        changes["ai"] = {
            k: v
            for k, v in {
                "personality": AiPersonality(data.ai.personality.value).value if data.ai.personality else None,
                "proactiveMode": data.ai.proactive_mode,
                "autoSuggestions": data.ai.auto_suggestions,
            }.items()
            if v is not None
        }
    if data.integrations is not None:
        changes["integrations"] = {
            k: v
            for k, v in {
                "autoConnect": data.integrations.auto_connect,
                "defaultCalendar": data.integrations.default_calendar,
                "defaultEmail": data.integrations.default_email,
            }.items()
            if v is not None
        }
    return changes


@strawberry.type
class UsersQuery:
    @strawberry.field(description="The signed-in user; null when anonymous.")
    async def viewer(self, info: Info) -> UserNode | None:
        row = await info.context.active_viewer()
        return UserNode.from_row(row) if row is not None else None


def _signed_in(payload: type[SignedInPayload]) -> Callable[[accounts.SignedIn], SignedInPayload]:
    def answer(signed: accounts.SignedIn) -> SignedInPayload:
        return payload(
            user=UserNode.from_row(signed.user), access_token=signed.access_token, refresh_token=signed.refresh_token
        )

    return answer


@strawberry.type
class UsersMutation:
    @strawberry.mutation(description="Create an account and sign in.")
    async def register(self, info: Info, input: i.RegisterInput) -> i.RegisterPayload:
        context = info.context
        data = accounts.Registration(
            email=input.email,
            password=input.password,
            first_name=input.first_name,
            last_name=input.last_name,
            business_name=input.business_name,
            business_type=BusinessType(input.business_type.value) if input.business_type else None,
            phone=input.phone,
            timezone=input.timezone,
        )
        return await mutate(
            info,
            lambda uow: accounts.register(
                uow.db,
                context.redis,
                context.resources.keys,
                data,
                address=context.client_address,
                per_hour=context.resources.settings.register_per_hour,
            ),
            _signed_in(i.RegisterPayload),
            i.RegisterPayload,
        )

    @strawberry.mutation(description="Sign in with email and password.")
    async def login(self, info: Info, input: i.LoginInput) -> i.LoginPayload:
        context = info.context
        return await mutate(
            info,
            lambda uow: accounts.login(
                uow.db,
                context.redis,
                context.resources.keys,
                input.email,
                input.password,
                address=context.client_address,
            ),
            _signed_in(i.LoginPayload),
            i.LoginPayload,
        )

    @strawberry.mutation(
        description="Trade a refresh token for a new access token and a new refresh token; the one sent stops working."
    )
    async def refresh_token(self, info: Info, input: i.RefreshTokenInput) -> i.RefreshTokenPayload:
        context = info.context
        return await mutate(
            info,
            lambda uow: accounts.refresh(uow.db, context.redis, context.resources.keys, input.refresh_token),
            _signed_in(i.RefreshTokenPayload),
            i.RefreshTokenPayload,
        )

    @strawberry.mutation(description="End the session of this refresh token (its sockets close).")
    async def logout(self, info: Info, input: i.LogoutInput) -> i.LogoutPayload:
        return await mutate(
            info,
            lambda uow: accounts.logout(info.context.redis, input.refresh_token),
            lambda _: i.LogoutPayload(),
            i.LogoutPayload,
        )

    @strawberry.mutation(permission_classes=SIGNED_IN, description="End every session of the account.")
    async def logout_everywhere(
        self, info: Info, input: i.LogoutEverywhereInput | None = None
    ) -> i.LogoutEverywherePayload:
        viewer = info.context.viewer
        assert viewer is not None
        return await mutate(
            info,
            lambda uow: accounts.logout_everywhere(info.context.redis, viewer.user_id),
            lambda revoked: i.LogoutEverywherePayload(revoked_sessions=revoked),
            i.LogoutEverywherePayload,
        )

    @strawberry.mutation(permission_classes=SIGNED_IN, description="Mail a code that proves the address.")
    async def request_email_verification(
        self, info: Info, input: i.RequestEmailVerificationInput | None = None
    ) -> i.RequestEmailVerificationPayload:
        context = info.context
        viewer = context.viewer
        assert viewer is not None
        return await mutate(
            info,
            lambda uow: accounts.request_email_verification(
                uow.db, context.redis, context.resources.mailer, viewer.user_id, address=context.client_address
            ),
            lambda _: i.RequestEmailVerificationPayload(),
            i.RequestEmailVerificationPayload,
        )

    @strawberry.mutation(description="Confirm an email address with the mailed code (works once).")
    async def verify_email(self, info: Info, input: i.VerifyEmailInput) -> i.VerifyEmailPayload:
        return await mutate(
            info,
            lambda uow: accounts.verify_email(uow.db, info.context.redis, input.token),
            lambda user: i.VerifyEmailPayload(user=UserNode.from_row(user)),
            i.VerifyEmailPayload,
        )

    @strawberry.mutation(description="Mail a password reset code, if the account exists.")
    async def request_password_reset(
        self, info: Info, input: i.RequestPasswordResetInput
    ) -> i.RequestPasswordResetPayload:
        context = info.context
        return await mutate(
            info,
            lambda uow: accounts.request_password_reset(
                uow.db, context.redis, context.resources.mailer, input.email, address=context.client_address
            ),
            lambda _: i.RequestPasswordResetPayload(),
            i.RequestPasswordResetPayload,
        )

    @strawberry.mutation(description="Set a new password with a mailed reset code; signs out everywhere.")
    async def reset_password(self, info: Info, input: i.ResetPasswordInput) -> i.ResetPasswordPayload:
        return await mutate(
            info,
            lambda uow: accounts.reset_password(uow.db, info.context.redis, input.token, input.new_password),
            lambda _: i.ResetPasswordPayload(),
            i.ResetPasswordPayload,
        )

    @strawberry.mutation(permission_classes=SIGNED_IN)
    async def update_profile(self, info: Info, input: i.UpdateProfileInput) -> i.UpdateProfilePayload:
        viewer = info.context.viewer
        assert viewer is not None
        business_type = input.business_type
        update = accounts.ProfileUpdate(
            first_name=input.first_name,
            last_name=input.last_name,
            business_name=input.business_name,
            business_type=BusinessType(business_type.value) if business_type else None,
            clear_business_type=business_type is None,
            phone=input.phone,
            timezone=input.timezone,
        )
        return await mutate(
            info,
            lambda uow: accounts.update_profile(uow.db, viewer.user_id, update),
            lambda user: i.UpdateProfilePayload(user=UserNode.from_row(user)),
            i.UpdateProfilePayload,
        )

    @strawberry.mutation(permission_classes=SIGNED_IN)
    async def update_preferences(self, info: Info, input: i.UpdatePreferencesInput) -> i.UpdatePreferencesPayload:
        viewer = info.context.viewer
        assert viewer is not None
        update = accounts.PreferencesUpdate(changes=_preferences(input))
        return await mutate(
            info,
            lambda uow: accounts.update_preferences(uow.db, viewer.user_id, update),
            lambda user: i.UpdatePreferencesPayload(user=UserNode.from_row(user)),
            i.UpdatePreferencesPayload,
        )

    @strawberry.mutation(
        permission_classes=SIGNED_IN, description="Needs the current password; signs out every other session."
    )
    async def change_password(self, info: Info, input: i.ChangePasswordInput) -> i.ChangePasswordPayload:
        viewer = info.context.viewer
        assert viewer is not None
        return await mutate(
            info,
            lambda uow: accounts.change_password(
                uow.db,
                info.context.redis,
                viewer.user_id,
                input.current_password,
                input.new_password,
                keep_session=viewer.session_id,
                address=info.context.client_address,
            ),
            lambda user: i.ChangePasswordPayload(user=UserNode.from_row(user)),
            i.ChangePasswordPayload,
        )

    @strawberry.mutation(
        permission_classes=SIGNED_IN,
        description="Needs the password. Sign-in stops, data is hidden, sessions end; "
        "the email stays taken until the retention purge.",
    )
    async def delete_account(self, info: Info, input: i.DeleteAccountInput) -> i.DeleteAccountPayload:
        viewer = info.context.viewer
        assert viewer is not None
        return await mutate(
            info,
            lambda uow: accounts.delete_account(
                uow.db, info.context.redis, viewer.user_id, input.password, address=info.context.client_address
            ),
            lambda _: i.DeleteAccountPayload(),
            i.DeleteAccountPayload,
        )
