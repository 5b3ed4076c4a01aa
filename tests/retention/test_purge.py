"""The seed's retention rules: rows made old by writing old times into them, the purge run, and exactly what
went and what stayed checked (the edges on both sides of each period)."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from typing import Any

import asyncpg
import pytest

from jobs.retention import run_purge
from resolvers import retention
from tests.conftest import _dsn
from tests.live import GATEWAY, gateway_env
from tests.retention.conftest import Rows

pytestmark = pytest.mark.timeout(300)


async def _purge(resources: Any, **options: Any) -> dict[str, dict[str, int]]:
    return {outcome.rule: outcome.rows for outcome in await retention.purge(resources.sessionmaker, **options)}


async def test_chat_sessions_deleted_30_days_and_archived_2_years_ago_go_with_their_messages(
    rows: Rows, retention_resources: Any
) -> None:
    user = await rows.user()
    deleted_old = await rows.session(user, status="deleted", deleted_ago="30 days 1 hour")
    deleted_recent = await rows.session(user, status="deleted", deleted_ago="29 days 23 hours")
    archived_old = await rows.session(user, status="archived", active_ago="2 years 1 day")
    archived_recent = await rows.session(user, status="archived", active_ago="2 years -1 day")
    active_ancient = await rows.session(user, active_ago="5 years")
    for chat in (deleted_old, deleted_recent, archived_old, archived_recent, active_ancient):
        await rows.messages(chat, 3)

    removed = await _purge(retention_resources)

    assert removed["deleted-chat-sessions"] == {"messages": 3, "chat_sessions": 1}
    assert removed["archived-chat-sessions"] == {"messages": 3, "chat_sessions": 1}
    assert not await rows.exists("chat_sessions", deleted_old)
    assert not await rows.exists("chat_sessions", archived_old)
    for kept in (deleted_recent, archived_recent, active_ancient):
        assert await rows.exists("chat_sessions", kept)
        assert await rows.count("messages", "session_id = $1", kept) == 3
    assert await rows.count("messages", "session_id = ANY($1::uuid[])", [deleted_old, archived_old]) == 0


async def test_tasks_completed_a_year_and_failed_six_months_ago_go_with_their_logs(
    rows: Rows, retention_resources: Any
) -> None:
    user, agent = await rows.user(), await rows.agent()
    completed_old = await rows.task(user, agent, completed_ago="1 year 1 day")
    completed_recent = await rows.task(user, agent, completed_ago="1 year -1 day")
    failed_old = await rows.task(user, agent, status="failed", completed_ago="6 months 1 day")
    failed_recent = await rows.task(user, agent, status="failed", completed_ago="6 months -1 day")
    cancelled_old = await rows.task(user, agent, status="cancelled", completed_ago="6 months 1 day")
    running = await rows.task(user, agent, status="running")
    log_of_removed = await rows.task_log(completed_old)
    log_old = await rows.task_log(running, ago="90 days 1 hour")
    log_recent = await rows.task_log(running, ago="89 days 23 hours")

    removed = await _purge(retention_resources)

    assert removed["completed-tasks"] == {"task_logs": 1, "tasks": 1}
    assert removed["failed-tasks"] == {"task_logs": 0, "tasks": 2}
    assert removed["task-logs"] == {"task_logs": 1}
    for gone in (completed_old, failed_old, cancelled_old):
        assert not await rows.exists("tasks", gone)
    for kept in (completed_recent, failed_recent, running):
        assert await rows.exists("tasks", kept)
    assert not await rows.exists("task_logs", log_of_removed)
    assert not await rows.exists("task_logs", log_old)
    assert await rows.exists("task_logs", log_recent)


async def test_documents_deleted_30_days_ago_go_with_their_file_and_integrations_disconnected_90_days_ago(
    rows: Rows, retention_resources: Any
) -> None:
    storage = retention_resources.storage
    user = await rows.user()
    stored = {name: f"retention/{uuid.uuid4()}/{name}" for name in ("old", "recent", "live")}
    for key in stored.values():
        await storage.put_bytes(key, b"%PDF-1.4 retention")
    document_old = await rows.document(user, deleted_ago="30 days 1 hour", file_path=stored["old"])
    document_recent = await rows.document(user, deleted_ago="29 days 23 hours", file_path=stored["recent"])
    document_live = await rows.document(user, file_path=stored["live"])
    log_of_removed = await rows.document_log(document_old)
    log_old = await rows.document_log(document_live, ago="90 days 1 hour")
    log_recent = await rows.document_log(document_live, ago="89 days 23 hours")
    integration_old = await rows.integration(user, provider="gmail", disconnected_ago="90 days 1 hour")
    integration_recent = await rows.integration(user, provider="slack", disconnected_ago="89 days 23 hours")
    integration_live = await rows.integration(user, provider="hubspot")
    event_of_removed = await rows.token_event(integration_old)
    event_old = await rows.token_event(integration_live, ago="30 days 1 hour")
    event_recent = await rows.token_event(integration_live, ago="29 days 23 hours")

    outcomes = {o.rule: o for o in await run_purge(retention_resources)}

    assert outcomes["deleted-documents"].rows == {"document_processing_logs": 1, "documents": 1}
    assert outcomes["deleted-documents"].files == 1 and outcomes["deleted-documents"].file_failures == 0
    assert outcomes["document-processing-logs"].rows == {"document_processing_logs": 1}
    assert outcomes["disconnected-integrations"].rows == {"integration_token_events": 1, "integrations": 1}
    assert outcomes["token-refresh-history"].rows == {"integration_token_events": 1}
    assert not await storage.exists(stored["old"])  # the stored file went with its row
    assert await storage.exists(stored["recent"]) and await storage.exists(stored["live"])
    for table, gone in (
        ("documents", document_old),
        ("document_processing_logs", log_of_removed),
        ("document_processing_logs", log_old),
        ("integrations", integration_old),
        ("integration_token_events", event_of_removed),
        ("integration_token_events", event_old),
    ):
        assert not await rows.exists(table, gone), table
    for table, kept in (
        ("documents", document_recent),
        ("documents", document_live),
        ("document_processing_logs", log_recent),
        ("integrations", integration_recent),
        ("integrations", integration_live),
        ("integration_token_events", event_recent),
    ):
        assert await rows.exists(table, kept), table


async def test_an_account_deleted_30_days_ago_goes_with_everything_it_owns_and_its_email_registers_again(
    rows: Rows, retention_resources: Any, retention_client: Any
) -> None:
    signed_up = await retention_client.register()
    gone = await rows.pg.fetchval("SELECT id FROM users WHERE email = $1", signed_up.email)
    kept = await rows.user(deleted_ago="29 days 23 hours")
    agent = await rows.agent()
    owned: dict[str, list[Any]] = {"chat_sessions": [], "tasks": [], "documents": [], "integrations": []}
    for user in (gone, kept):
        chat = await rows.session(user)
        await rows.messages(chat, 5)
        task = await rows.task(user, agent, session_id=chat, status="running")
        await rows.task_log(task)
        owned["chat_sessions"].append(chat)
        owned["tasks"].append(task)
        document = await rows.document(user)
        await rows.document_log(document)
        integration = await rows.integration(user)
        await rows.token_event(integration)
        owned["documents"].append(document)
        owned["integrations"].append(integration)
    # The email is still taken while the account waits out its 30 days.
    await rows.pg.execute("UPDATE users SET deleted_at = now() - interval '30 days 1 hour' WHERE id = $1", gone)
    refused = await retention_client.execute(
        "mutation($input: RegisterInput!) { register(input: $input) { errors { code } } }",
        {"input": {"email": signed_up.email, "password": "Another-pass-42", "firstName": "A", "lastName": "B"}},
    )
    assert refused["data"]["register"]["errors"], "the email is taken until the purge"

    removed = await _purge(retention_resources)

    assert removed["deleted-accounts"] == {
        "messages": 5,
        "task_logs": 1,
        "tasks": 1,
        "chat_sessions": 1,
        "document_processing_logs": 1,
        "documents": 1,
        "integration_token_events": 1,
        "integrations": 1,
        "users": 1,
    }
    assert not await rows.exists("users", gone)
    assert await rows.exists("users", kept)
    for table, (of_gone, of_kept) in owned.items():
        assert not await rows.exists(table, of_gone), table
        assert await rows.exists(table, of_kept), table
    again = await retention_client.register(email=signed_up.email)
    assert again.id != signed_up.id


async def test_a_dry_run_counts_and_removes_nothing(rows: Rows, retention_resources: Any) -> None:
    await _purge(retention_resources)  # what earlier tests left
    user = await rows.user()
    chat = await rows.session(user, status="deleted", deleted_ago="40 days")
    await rows.messages(chat, 4)

    would = await _purge(retention_resources, dry_run=True)

    assert would["deleted-chat-sessions"] == {"messages": 4, "chat_sessions": 1}
    assert sum(sum(counts.values()) for counts in would.values()) == 5
    assert await rows.exists("chat_sessions", chat)
    assert await rows.count("messages", "session_id = $1", chat) == 4


async def test_batches_are_bounded_and_two_purges_at_once_share_the_work(
    rows: Rows, retention_resources: Any, rpg: asyncpg.Connection
) -> None:
    await _purge(retention_resources)
    user = await rows.user()
    chats = [await rows.session(user, status="deleted", deleted_ago="31 days") for _ in range(6)]
    for chat in chats:
        await rows.messages(chat, 400)
    statements: list[str] = []

    from sqlalchemy import event

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            statements.append(statement)

    engine = retention_resources.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        first, second = await asyncio.gather(
            retention.purge(retention_resources.sessionmaker, batch_size=100, only=["deleted-chat-sessions"]),
            retention.purge(retention_resources.sessionmaker, batch_size=100, only=["deleted-chat-sessions"]),
        )
    finally:
        event.remove(engine, "before_cursor_execute", record)

    # Every message removed exactly once between the two, each batch at most 100 rows.
    assert first[0].rows["messages"] + second[0].rows["messages"] == 2400
    assert first[0].rows["chat_sessions"] + second[0].rows["chat_sessions"] == 6
    assert all("LIMIT" in statement and "SKIP LOCKED" in statement for statement in statements)
    assert len(statements) >= 24  # 2,400 messages in batches of 100 at most
    assert await rows.count("messages", "session_id = ANY($1::uuid[])", chats) == 0

    again = await _purge(retention_resources)
    assert again["deleted-chat-sessions"] == {"messages": 0, "chat_sessions": 0}  # safe to re-run


async def test_purges_are_counted_in_metrics_of_any_process(
    rows: Rows, retention_resources: Any, retention_client: Any
) -> None:
    user = await rows.user()
    await rows.session(user, status="deleted", deleted_ago="31 days")

    outcomes = await run_purge(retention_resources)

    assert next(o for o in outcomes if o.rule == "deleted-chat-sessions").rows["chat_sessions"] >= 1
    text = (await retention_client.http.get("/metrics")).text
    assert 'gateway_purge_rows_total{rule="deleted-chat-sessions",table="chat_sessions"}' in text
    assert 'gateway_purge_rows_removed_total{rule="deleted-chat-sessions",table="chat_sessions"}' in text
    assert "gateway_purge_last_success_timestamp_seconds" in text
    assert 'gateway_purge_runs_total{outcome="completed"}' in text


def test_gateway_purge_prints_what_each_rule_would_remove_and_removed(
    retention_db: str, redis_url: str, tmp_path: Any
) -> None:
    env = gateway_env(retention_db, redis_url, tmp_path)

    def run(*args: str) -> str:
        done = subprocess.run([GATEWAY, "purge", *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    async def arrange() -> None:
        connection = await asyncpg.connect(_dsn(retention_db))
        try:
            made = Rows(connection)
            chat = await made.session(await made.user(), status="deleted", deleted_ago="31 days")
            await made.messages(chat, 2)
        finally:
            await connection.close()

    run()  # what earlier tests left
    asyncio.run(arrange())
    dry = run("--dry-run")
    assert "deleted-chat-sessions        would remove 2 messages, 1 chat_sessions" in dry
    for rule in retention.rules():
        assert rule.name in dry
    assert "deleted-chat-sessions        removed 2 messages, 1 chat_sessions" in run()
    assert "deleted-chat-sessions        removed nothing" in run()


def test_the_worker_runs_the_purge_daily(retention_resources: Any) -> None:
    from jobs.context import WorkerDeps
    from jobs.retention import purge_expired
    from jobs.worker import build_workers

    workers = build_workers(WorkerDeps.of(retention_resources))
    crons = {cron.function: cron.cron for worker in workers for cron in worker.cron_jobs}
    assert crons[purge_expired] == "23 3 * * *"
