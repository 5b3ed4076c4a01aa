"""The users domain's roots: `viewer` and the account mutations."""

from __future__ import annotations

import strawberry

from graph.context import Info
from graph.errors import user_errors
from graph.mutations import in_transaction
from graph.permissions import IsAuthenticated
from graph.users import inputs as i
from graph.users.types import UserNode
from models.users import AiPersonality, BusinessType
from resolvers import users as accounts
from resolvers.problems import Rejected

SIGNED_IN = [IsAuthenticated]


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
        try:
            signed = await in_transaction(
                info,
                lambda session: accounts.register(
                    session,
                    context.redis,
                    context.resources.keys,
                    data,
                    address=context.client_address,
                    per_hour=context.resources.settings.register_per_hour,
                ),
            )
        except Rejected as rejected:
            return i.RegisterPayload(errors=user_errors(rejected.problems))
        return i.RegisterPayload(
            user=UserNode.from_row(signed.user), access_token=signed.access_token, refresh_token=signed.refresh_token
        )

    @strawberry.mutation(description="Sign in with email and password.")
    async def login(self, info: Info, input: i.LoginInput) -> i.LoginPayload:
        context = info.context
        try:
            signed = await in_transaction(
                info,
                lambda session: accounts.login(
                    session,
                    context.redis,
                    context.resources.keys,
                    input.email,
                    input.password,
                    address=context.client_address,
                ),
            )
        except Rejected as rejected:
            return i.LoginPayload(errors=user_errors(rejected.problems))
        return i.LoginPayload(
            user=UserNode.from_row(signed.user), access_token=signed.access_token, refresh_token=signed.refresh_token
        )

    @strawberry.mutation(
        description="Trade a refresh token for a new access token and a new refresh token; the one sent stops working."
    )
    async def refresh_token(self, info: Info, input: i.RefreshTokenInput) -> i.RefreshTokenPayload:
        context = info.context
        try:
            signed = await in_transaction(
                info,
                lambda session: accounts.refresh(session, context.redis, context.resources.keys, input.refresh_token),
            )
        except Rejected as rejected:
            return i.RefreshTokenPayload(errors=user_errors(rejected.problems))
        return i.RefreshTokenPayload(
            user=UserNode.from_row(signed.user), access_token=signed.access_token, refresh_token=signed.refresh_token
        )

    @strawberry.mutation(description="End the session of this refresh token (its sockets close).")
    async def logout(self, info: Info, input: i.LogoutInput) -> i.LogoutPayload:
        try:
            await accounts.logout(info.context.redis, input.refresh_token)
        except Rejected as rejected:
            return i.LogoutPayload(errors=user_errors(rejected.problems))
        return i.LogoutPayload()

    @strawberry.mutation(permission_classes=SIGNED_IN, description="End every session of the account.")
    async def logout_everywhere(
        self, info: Info, input: i.LogoutEverywhereInput | None = None
    ) -> i.LogoutEverywherePayload:
        assert info.context.viewer is not None
        try:
            revoked = await accounts.logout_everywhere(info.context.redis, info.context.viewer.user_id)
        except Rejected as rejected:
            return i.LogoutEverywherePayload(errors=user_errors(rejected.problems))
        return i.LogoutEverywherePayload(revoked_sessions=revoked)

    @strawberry.mutation(permission_classes=SIGNED_IN, description="Mail a code that proves the address.")
    async def request_email_verification(
        self, info: Info, input: i.RequestEmailVerificationInput | None = None
    ) -> i.RequestEmailVerificationPayload:
        context = info.context
        assert context.viewer is not None
        try:
            await in_transaction(
                info,
                lambda session: accounts.request_email_verification(
                    session,
                    context.redis,
                    context.resources.mailer,
                    context.viewer.user_id,
                    address=context.client_address,
                ),
            )
        except Rejected as rejected:
            return i.RequestEmailVerificationPayload(errors=user_errors(rejected.problems))
        return i.RequestEmailVerificationPayload()

    @strawberry.mutation(description="Confirm an email address with the mailed code (works once).")
    async def verify_email(self, info: Info, input: i.VerifyEmailInput) -> i.VerifyEmailPayload:
        try:
            user = await in_transaction(
                info, lambda session: accounts.verify_email(session, info.context.redis, input.token)
            )
        except Rejected as rejected:
            return i.VerifyEmailPayload(errors=user_errors(rejected.problems))
        return i.VerifyEmailPayload(user=UserNode.from_row(user))

    @strawberry.mutation(description="Mail a password reset code, if the account exists.")
    async def request_password_reset(
        self, info: Info, input: i.RequestPasswordResetInput
    ) -> i.RequestPasswordResetPayload:
        context = info.context
        try:
            await in_transaction(
                info,
                lambda session: accounts.request_password_reset(
                    session, context.redis, context.resources.mailer, input.email, address=context.client_address
                ),
            )
        except Rejected as rejected:
            return i.RequestPasswordResetPayload(errors=user_errors(rejected.problems))
        return i.RequestPasswordResetPayload()

    @strawberry.mutation(description="Set a new password with a mailed reset code; signs out everywhere.")
    async def reset_password(self, info: Info, input: i.ResetPasswordInput) -> i.ResetPasswordPayload:
        try:
            await in_transaction(
                info,
                lambda session: accounts.reset_password(session, info.context.redis, input.token, input.new_password),
            )
        except Rejected as rejected:
            return i.ResetPasswordPayload(errors=user_errors(rejected.problems))
        return i.ResetPasswordPayload()

    @strawberry.mutation(permission_classes=SIGNED_IN)
    async def update_profile(self, info: Info, input: i.UpdateProfileInput) -> i.UpdateProfilePayload:
        assert info.context.viewer is not None
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
        try:
            user = await in_transaction(
                info, lambda session: accounts.update_profile(session, info.context.viewer.user_id, update)
            )
        except Rejected as rejected:
            return i.UpdateProfilePayload(errors=user_errors(rejected.problems))
        return i.UpdateProfilePayload(user=UserNode.from_row(user))

    @strawberry.mutation(permission_classes=SIGNED_IN)
    async def update_preferences(self, info: Info, input: i.UpdatePreferencesInput) -> i.UpdatePreferencesPayload:
        assert info.context.viewer is not None
        update = accounts.PreferencesUpdate(changes=_preferences(input))
        try:
            user = await in_transaction(
                info, lambda session: accounts.update_preferences(session, info.context.viewer.user_id, update)
            )
        except Rejected as rejected:
            return i.UpdatePreferencesPayload(errors=user_errors(rejected.problems))
        return i.UpdatePreferencesPayload(user=UserNode.from_row(user))

    @strawberry.mutation(
        permission_classes=SIGNED_IN, description="Needs the current password; signs out every other session."
    )
    async def change_password(self, info: Info, input: i.ChangePasswordInput) -> i.ChangePasswordPayload:
        viewer = info.context.viewer
        assert viewer is not None
        try:
            user = await in_transaction(
                info,
                lambda session: accounts.change_password(
                    session,
                    info.context.redis,
                    viewer.user_id,
                    input.current_password,
                    input.new_password,
                    keep_session=viewer.session_id,
                    address=info.context.client_address,
                ),
            )
        except Rejected as rejected:
            return i.ChangePasswordPayload(errors=user_errors(rejected.problems))
        return i.ChangePasswordPayload(user=UserNode.from_row(user))

    @strawberry.mutation(
        permission_classes=SIGNED_IN,
        description="Needs the password. Sign-in stops, data is hidden, sessions end; "
        "the email stays taken until the retention purge.",
    )
    async def delete_account(self, info: Info, input: i.DeleteAccountInput) -> i.DeleteAccountPayload:
        viewer = info.context.viewer
        assert viewer is not None
        try:
            await in_transaction(
                info,
                lambda session: accounts.delete_account(
                    session, info.context.redis, viewer.user_id, input.password, address=info.context.client_address
                ),
            )
        except Rejected as rejected:
            return i.DeleteAccountPayload(errors=user_errors(rejected.problems))
        return i.DeleteAccountPayload()
