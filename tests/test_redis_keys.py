"""Redis keys and channels are named in services/keys.py only: web processes, workers and tests agree on them."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from models.tasks import TaskPriority
from services import keys

pytestmark = pytest.mark.unit  # needs neither PostgreSQL nor Redis

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gateway", "graph", "jobs", "loaders", "models", "resolvers", "services")
# The leading words of every key and channel: a string starting with one of them followed by ':' is a name.
PREFIXES = ("agent", "apq", "auth", "chat", "document", "documents", "ratelimit", "session", "task", "tasks", "worker")


def test_the_formats_other_processes_and_stored_data_rely_on() -> None:
    pk = uuid.UUID(int=7)
    assert keys.agent_capabilities(pk) == f"agent:capabilities:{pk}"
    assert keys.agent_health_failures(pk) == f"agent:health:failures:{pk}"
    assert keys.task_events(pk) == f"tasks:user:{pk}"
    assert keys.chat_session_events(pk) == f"chat:session:{pk}"
    assert keys.refresh_token("ab") == "signin:refresh:ab"
    assert keys.sign_in("s") == "signin:sid:s"
    assert keys.sign_ins_of(pk) == f"signin:user:{pk}"
    assert keys.revoked_sign_in("s") == "signin:revoked:s"
    assert keys.worker_alive("w") == "worker:alive:w"
    assert keys.task_enqueued(pk) == f"task:enqueued:{pk}"
    assert keys.task_queue_attempts(pk) == f"task:queue-attempts:{pk}"
    assert re.fullmatch(rf"task:{pk}:[0-9a-f]{{8}}", keys.task_job(pk))
    assert keys.task_job(pk) != keys.task_job(pk)
    assert [keys.task_queue(priority) for priority in TaskPriority] == ["tasks-low", "tasks-medium", "tasks-high"]
    assert keys.attempt_strikes(keys.attempt_counter("password:pair", "d")) == "ratelimit:password:pair:d:strikes"
    assert keys.cost_budget("d") == "ratelimit:cost:d"
    assert (keys.persisted_query("ab"), keys.PERSISTED_QUERY_INDEX) == ("apq:document:ab", "apq:index")
    assert keys.document_events(pk) == f"documents:user:{pk}"
    assert (keys.document_metadata(pk), keys.document_generation(pk)) == (
        f"documents:meta:{pk}",
        f"documents:generation:{pk}",
    )
    assert (keys.document_queued(pk), keys.document_lease(pk)) == (f"documents:queued:{pk}", f"documents:lease:{pk}")
    assert re.fullmatch(rf"document:{pk}:[0-9a-f]{{8}}", keys.document_job(pk))


def test_untrusted_text_enters_a_key_only_as_its_hash() -> None:
    token = "a token: with spaces\nand a newline" * 100
    key = keys.one_time_link("reset-password", token)
    assert token not in key and len(key) == len("reset-password:") + 64


def test_no_other_module_spells_a_key() -> None:
    spelled = re.compile(rf"""["']({"|".join(re.escape(prefix) for prefix in PREFIXES)}):[^\s"']""")
    owner = ROOT / "services" / "keys.py"
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != owner
        for number, line in enumerate(path.read_text().splitlines(), 1)
        # Attempt limits are named `area:what`; keys.attempt_counter builds their keys from the name.
        # OAuth scopes (Slack's `chat:write`) look like keys and are not.
        if spelled.search(line) and "Limit(" not in line and "Scope(" not in line and "scopes=(" not in line
    ]
    assert found == []
