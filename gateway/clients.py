"""Clients the web process and the worker both build from the settings."""

from __future__ import annotations

from gateway.settings import Settings
from services.crypto import SecretBox, dev_secret_box
from services.egress import EgressPolicy
from services.oauth.providers import Registry


def secret_box(settings: Settings) -> SecretBox:
    if settings.encryption_keys:
        return SecretBox.from_setting(settings.encryption_keys)
    if settings.is_production:
        raise SystemExit("GATEWAY_ENCRYPTION_KEYS is required in production")
    return dev_secret_box(settings.data_dir)


def egress_policy(settings: Settings) -> EgressPolicy:
    return EgressPolicy(allow_loopback=settings.loopback_agents_allowed, allow_private=settings.allow_private_agents)


def oauth_registry(settings: Settings) -> Registry:
    return Registry.from_settings(settings.oauth_settings)
