"""The typed JSONB documents: defaults in one place, stored documents read back unchanged, bad values refused
with the key named."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from models.agents import (
    DEFAULT_TIMEOUT_MS,
    AgentAuth,
    AgentConfig,
    AuthenticationType,
    RateLimitConfig,
    SealedKey,
)
from models.json_document import unreadable_keys
from models.tasks import MAX_DEPENDENCIES, TaskMeta, TaskPriority

pytestmark = pytest.mark.unit  # needs neither PostgreSQL nor Redis


def refused_keys(document: type[AgentConfig] | type[TaskMeta], raw: object) -> list[str]:
    with pytest.raises(ValueError) as refused:
        document.parse(raw)
    return unreadable_keys(refused.value)


# --- AgentConfig -----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, {}, "{}", {"timeout": None, "retries": None, "authentication": None}])
def test_an_empty_agent_configuration_reads_as_the_defaults(raw: object) -> None:
    config = AgentConfig.parse(raw)
    assert (config.timeout, config.retries, config.rate_limit) == (DEFAULT_TIMEOUT_MS, 0, None)
    assert config.authentication.type is AuthenticationType.NONE and config.sealed_key is None
    assert (config.timeout_seconds, config.attempts) == (30.0, 1)


def test_an_agent_configuration_is_stored_with_its_defaults_written_out() -> None:
    assert AgentConfig().dump() == {"timeout": 30_000, "retries": 0, "authentication": {"type": "none"}}


def test_a_stored_agent_configuration_reads_back_unchanged() -> None:
    stored = {
        "timeout": 5000,
        "retries": 2,
        "rateLimit": {"requests": 60, "window": 60},
        "authentication": {
            "type": "apikey",
            "config": {"header": "X-Api-Key", "secret": "sealed", "origin": "https://agent.example"},
        },
        "addedLater": {"kept": True},  # a key this version does not know survives a write
    }
    config = AgentConfig.parse(json.dumps(stored))
    assert config.rate_limit == RateLimitConfig(requests=60, window=60)
    assert config.sealed_key == SealedKey(header="X-Api-Key", secret="sealed", origin="https://agent.example")
    assert config.dump() == stored


def test_a_legacy_key_has_no_origin_and_the_default_header() -> None:
    config = AgentConfig.parse({"authentication": {"type": "oauth", "config": {"secret": "old"}}})
    assert config.sealed_key is not None
    assert (config.sealed_key.header, config.sealed_key.origin) == ("Authorization", None)


def test_a_key_is_not_used_when_the_agent_takes_no_authentication() -> None:
    config = AgentConfig(authentication=AgentAuth(type=AuthenticationType.NONE, config=SealedKey(secret="x")))
    assert config.sealed_key is None


@pytest.mark.parametrize(
    ("raw", "keys"),
    [
        ({"timeout": "fast"}, ["timeout"]),
        ({"timeout": 99}, ["timeout"]),
        ({"timeout": 300_001}, ["timeout"]),
        ({"retries": -1}, ["retries"]),
        ({"retries": 2**40}, ["retries"]),
        ({"rateLimit": "lots"}, ["rateLimit"]),
        ({"rateLimit": {"requests": 0, "window": 60}}, ["rateLimit"]),
        ({"rateLimit": {"requests": 1}}, ["rateLimit"]),
        ({"authentication": {"type": "basic"}}, ["authentication"]),
        ({"timeout": 0, "retries": "x"}, ["timeout", "retries"]),
        (["timeout", 5], []),
        ("not json", []),
    ],
)
def test_bad_agent_configurations_are_refused_naming_the_key(raw: object, keys: list[str]) -> None:
    assert refused_keys(AgentConfig, raw) == keys


# --- TaskMeta --------------------------------------------------------------------------------------


def test_empty_task_metadata_reads_as_the_defaults() -> None:
    for raw in (None, {}, {"priority": ""}, {"priority": None, "dependencies": None}):
        meta = TaskMeta.parse(raw)
        assert (meta.priority, meta.scheduled_for, meta.dependencies) == (TaskPriority.MEDIUM, None, ())
        assert (meta.user_visible, meta.notify_on_complete, meta.worker) == (True, False, None)


def test_stored_task_metadata_reads_back_unchanged() -> None:
    stored = {
        "priority": "high",
        "scheduledFor": "2026-05-01T09:00:00+00:00",
        "dependencies": [str(uuid.uuid4())],
        "userVisible": True,
        "notifyOnComplete": False,
        "worker": "worker-1",
        "addedLater": 1,
    }
    meta = TaskMeta.parse(stored)
    assert meta.scheduled_for == datetime(2026, 5, 1, 9, tzinfo=UTC)
    assert meta.dependencies == (uuid.UUID(stored["dependencies"][0]),)  # type: ignore[index]
    assert meta.dump() == stored
    # Only what was read or given is written: a document keeps its keys.
    assert TaskMeta.parse({"priority": "high"}).dump() == {"priority": "high"}


def test_task_metadata_built_by_a_use_case_is_stored_in_camel_case() -> None:
    dependency = uuid.uuid4()
    at = datetime(2026, 5, 1, 11, tzinfo=timezone(timedelta(hours=2)))
    meta = TaskMeta(
        priority=TaskPriority.LOW,
        scheduled_for=at.astimezone(UTC),
        dependencies=(dependency,),
        user_visible=True,
        notify_on_complete=True,
    )
    assert meta.dump() == {
        "priority": "low",
        "scheduledFor": "2026-05-01T09:00:00+00:00",
        "dependencies": [str(dependency)],
        "userVisible": True,
        "notifyOnComplete": True,
    }


def test_a_claim_adds_the_worker_and_keeps_the_rest() -> None:
    stored = {"priority": "low", "somethingElse": [1]}
    assert TaskMeta.parse(stored).claimed_by("w-7").dump() == {**stored, "worker": "w-7"}


@pytest.mark.parametrize(
    ("raw", "keys"),
    [
        ({"priority": "urgent"}, ["priority"]),
        ({"priority": {"level": 3}}, ["priority"]),
        ({"scheduledFor": "0001-01-01T00:00:00"}, ["scheduledFor"]),  # no zone
        ({"scheduledFor": "tomorrow"}, ["scheduledFor"]),
        ({"scheduledFor": 1_700_000_000}, ["scheduledFor"]),  # not taken as epoch seconds
        ({"dependencies": ["t-1"]}, ["dependencies"]),
        ({"dependencies": [str(uuid.uuid4())] * (MAX_DEPENDENCIES + 1)}, ["dependencies"]),
        ({"userVisible": "yes", "notifyOnComplete": 1}, ["userVisible", "notifyOnComplete"]),
        ("[]", []),
    ],
)
def test_bad_task_metadata_is_refused_naming_the_key(raw: object, keys: list[str]) -> None:
    assert refused_keys(TaskMeta, raw) == keys


def test_the_priority_of_otherwise_unreadable_metadata_still_reads() -> None:
    raw = {"priority": "high", "scheduledFor": "0001-01-01T00:00:00"}
    assert TaskMeta.parse_only(raw, "priority").priority is TaskPriority.HIGH
    with pytest.raises(ValueError):
        TaskMeta.parse_only({"priority": "urgent", "scheduledFor": "0001-01-01T00:00:00"}, "priority")
