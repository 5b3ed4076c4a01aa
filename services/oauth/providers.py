"""The OAuth providers the gateway connects to: their endpoints, the scopes each offers (the seed's rule
"scopes must be valid for provider") and what each scope lets the assistant do.

Defaults are the providers' real endpoints. Every one can be overridden per provider from the environment
(`GATEWAY_OAUTH_<PROVIDER>_AUTHORIZE_URL|TOKEN_URL|REVOKE_URL|USERINFO_URL`), and the client credentials
come from `GATEWAY_OAUTH_<PROVIDER>_CLIENT_ID|CLIENT_SECRET`; a provider without both is not configured
and cannot be connected. Invariants: a provider's scopes are a closed list; a scope's capabilities are
fixed here, so a granted scope always means the same capabilities.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from models.integrations import IntegrationProvider


@dataclass(frozen=True)
class Scope:
    name: str
    description: str
    capabilities: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProviderSpec:
    provider: IntegrationProvider
    display_name: str
    authorize_url: str
    token_url: str
    revoke_url: str | None  # None: the provider offers no RFC 7009 revocation
    userinfo_url: str
    scopes: tuple[Scope, ...]
    default_scopes: tuple[str, ...]
    # Extra parameters of the authorization request (Google hands out a refresh token only when asked).
    authorize_params: tuple[tuple[str, str], ...] = ()
    token_auth_method: str = "client_secret_post"


@dataclass(frozen=True)
class ProviderConfig:
    """A provider as this deployment sees it: the spec, endpoints after overrides, client credentials."""

    spec: ProviderSpec
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)

    @property
    def provider(self) -> IntegrationProvider:
        return self.spec.provider

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret)

    def scope(self, name: str) -> Scope | None:
        return next((scope for scope in self.spec.scopes if scope.name == name), None)

    def unknown_scopes(self, names: Iterable[str]) -> list[str]:
        return [name for name in names if self.scope(name) is None]

    def capabilities(self, granted: Iterable[str]) -> list[str]:
        """The capabilities the granted scopes give, each once, in the registry's order."""
        found: list[str] = []
        for name in granted:
            scope = self.scope(name)
            for capability in scope.capabilities if scope else ():
                if capability not in found:
                    found.append(capability)
        return found


GOOGLE_AUTHORIZE = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN = "https://oauth2.googleapis.com/token"
GOOGLE_REVOKE = "https://oauth2.googleapis.com/revoke"
GOOGLE_USERINFO = "https://openidconnect.googleapis.com/v1/userinfo"
GOOGLE_IDENTITY = (
    Scope("openid", "Sign in with Google."),
    Scope("email", "Your Google account's email address."),
    Scope("profile", "Your name and picture."),
)
GOOGLE_OFFLINE = (("access_type", "offline"), ("prompt", "consent"))


def _google(
    provider: IntegrationProvider, display_name: str, scopes: tuple[Scope, ...], *, default_scope: str
) -> ProviderSpec:
    """A Google API: its own scopes beside Google's sign-in ones, on Google's endpoints, asked for offline access."""
    return ProviderSpec(
        provider=provider,
        display_name=display_name,
        scopes=(*GOOGLE_IDENTITY, *scopes),
        default_scopes=("openid", "email", "profile", default_scope),
        authorize_url=GOOGLE_AUTHORIZE,
        token_url=GOOGLE_TOKEN,
        revoke_url=GOOGLE_REVOKE,
        userinfo_url=GOOGLE_USERINFO,
        authorize_params=GOOGLE_OFFLINE,
    )


MICROSOFT = "https://login.microsoftonline.com/common/oauth2/v2.0"

SPECS: Mapping[IntegrationProvider, ProviderSpec] = {
    spec.provider: spec
    for spec in (
        _google(
            IntegrationProvider.GMAIL,
            "Gmail",
            (
                Scope("https://www.googleapis.com/auth/gmail.readonly", "Read your mail.", ("email.read",)),
                Scope("https://www.googleapis.com/auth/gmail.send", "Send mail as you.", ("email.send",)),
                Scope("https://www.googleapis.com/auth/gmail.compose", "Write drafts.", ("email.draft",)),
                Scope(
                    "https://www.googleapis.com/auth/gmail.modify",
                    "Read, label and archive your mail.",
                    ("email.read", "email.organize"),
                ),
            ),
            default_scope="https://www.googleapis.com/auth/gmail.readonly",
        ),
        _google(
            IntegrationProvider.GOOGLE_CALENDAR,
            "Google Calendar",
            (
                Scope("https://www.googleapis.com/auth/calendar.readonly", "See your calendars.", ("calendar.read",)),
                Scope(
                    "https://www.googleapis.com/auth/calendar.events",
                    "See and change events.",
                    ("calendar.read", "calendar.write"),
                ),
            ),
            default_scope="https://www.googleapis.com/auth/calendar.readonly",
        ),
        ProviderSpec(
            provider=IntegrationProvider.HUBSPOT,
            display_name="HubSpot",
            authorize_url="https://app.hubspot.com/oauth/authorize",
            token_url="https://api.hubapi.com/oauth/v1/token",
            revoke_url=None,  # HubSpot deletes refresh tokens with its own DELETE call, not RFC 7009
            userinfo_url="https://api.hubapi.com/account-info/v3/details",
            scopes=(
                Scope("oauth", "Connect to your HubSpot account."),
                Scope("crm.objects.contacts.read", "See your contacts.", ("crm.contacts.read",)),
                Scope("crm.objects.contacts.write", "Change your contacts.", ("crm.contacts.write",)),
                Scope("crm.objects.companies.read", "See your companies.", ("crm.companies.read",)),
                Scope("crm.objects.deals.read", "See your deals.", ("crm.deals.read",)),
                Scope("crm.objects.deals.write", "Change your deals.", ("crm.deals.write",)),
            ),
            default_scopes=("oauth", "crm.objects.contacts.read"),
        ),
        ProviderSpec(
            provider=IntegrationProvider.OUTLOOK,
            display_name="Outlook",
            authorize_url=f"{MICROSOFT}/authorize",
            token_url=f"{MICROSOFT}/token",
            revoke_url=None,  # Microsoft identity platform has no revocation endpoint
            userinfo_url="https://graph.microsoft.com/oidc/userinfo",
            scopes=(
                Scope("openid", "Sign in with Microsoft."),
                Scope("email", "Your email address."),
                Scope("profile", "Your name."),
                Scope("offline_access", "Stay connected when you are away."),
                Scope("User.Read", "Read your profile."),
                Scope("Mail.Read", "Read your mail.", ("email.read",)),
                Scope("Mail.Send", "Send mail as you.", ("email.send",)),
                Scope("Calendars.Read", "See your calendars.", ("calendar.read",)),
                Scope("Calendars.ReadWrite", "See and change events.", ("calendar.read", "calendar.write")),
            ),
            default_scopes=("openid", "email", "profile", "offline_access", "Mail.Read"),
        ),
        ProviderSpec(
            provider=IntegrationProvider.SLACK,
            display_name="Slack",
            authorize_url="https://slack.com/oauth/v2/authorize",
            token_url="https://slack.com/api/oauth.v2.access",
            revoke_url="https://slack.com/api/auth.revoke",
            userinfo_url="https://slack.com/api/openid.connect.userInfo",
            scopes=(
                Scope("openid", "Sign in with Slack."),
                Scope("email", "Your email address."),
                Scope("profile", "Your name and picture."),
                Scope("channels:read", "See your channels.", ("chat.channels.read",)),
                Scope("channels:history", "Read messages in your channels.", ("chat.read",)),
                Scope("chat:write", "Post messages as you.", ("chat.write",)),
                Scope("users:read", "See people in your workspace.", ("chat.people.read",)),
            ),
            default_scopes=("openid", "email", "profile", "chat:write"),
        ),
    )
}

_OVERRIDES = {
    "AUTHORIZE_URL": "authorize_url",
    "TOKEN_URL": "token_url",
    "REVOKE_URL": "revoke_url",
    "USERINFO_URL": "userinfo_url",
}


class Registry:
    """Every provider with this deployment's settings, built once per process."""

    def __init__(self, configs: Mapping[IntegrationProvider, ProviderConfig]) -> None:
        self._configs = dict(configs)

    @classmethod
    def from_settings(cls, values: Mapping[str, str]) -> Registry:
        """From `GATEWAY_OAUTH_<PROVIDER>_<NAME>` values (names upper-case)."""
        configs: dict[IntegrationProvider, ProviderConfig] = {}
        for provider, spec in SPECS.items():
            prefix = f"GATEWAY_OAUTH_{provider.value.upper()}_"
            overrides = {
                attribute: values[prefix + name].strip()
                for name, attribute in _OVERRIDES.items()
                if values.get(prefix + name, "").strip()
            }
            configs[provider] = ProviderConfig(
                spec=replace(spec, **overrides),  # type: ignore[arg-type]
                client_id=(values.get(prefix + "CLIENT_ID") or "").strip() or None,
                client_secret=(values.get(prefix + "CLIENT_SECRET") or "").strip() or None,
            )
        return cls(configs)

    def get(self, provider: IntegrationProvider | str) -> ProviderConfig | None:
        try:
            return self._configs.get(IntegrationProvider(provider))
        except ValueError:
            return None

    def all(self) -> list[ProviderConfig]:
        return [self._configs[provider] for provider in IntegrationProvider]
