"""Account use cases: signing up and in, sessions, the profile, and recovery by email."""

from resolvers.users.account import (
    PreferencesUpdate,
    ProfileUpdate,
    change_password,
    delete_account,
    update_preferences,
    update_profile,
)
from resolvers.users.recovery import (
    request_email_verification,
    request_password_reset,
    reset_password,
    verify_email,
)
from resolvers.users.signin import (
    Registration,
    SignedIn,
    login,
    logout,
    logout_everywhere,
    refresh,
    register,
)

__all__ = [
    "PreferencesUpdate",
    "ProfileUpdate",
    "Registration",
    "SignedIn",
    "change_password",
    "delete_account",
    "login",
    "logout",
    "logout_everywhere",
    "refresh",
    "register",
    "request_email_verification",
    "request_password_reset",
    "reset_password",
    "update_preferences",
    "update_profile",
    "verify_email",
]
