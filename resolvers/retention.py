"""The seed's retention policies, applied by one purge (`gateway purge`, and the worker's daily cron).

Each rule names the rows it removes as a condition relative to `now()`, and the steps that remove them:
children first (a session's messages before the session, an account's rows before the account), so no
single statement cascades into an unbounded number of rows. Every step deletes in batches of at most
`batch_size` rows, one short transaction each:

    DELETE FROM t WHERE id IN (SELECT id FROM t WHERE <expired> LIMIT n FOR UPDATE SKIP LOCKED)

so a batch holds its locks for milliseconds, never waits for a row someone else holds, and two purges
running at once split the work between them instead of blocking each other or counting a row twice.
Running it again removes only what expired since: it is safe to repeat, and to stop half-way (what is
left is still expired and goes next time). A dry run counts the same conditions and removes nothing.

Files in storage (documents) are removed after the batch naming them has committed; a file that cannot
be removed is logged and counted (`gateway_purge_file_failures`), never a reason to keep the row.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loaders.visibility import chat_sessions, documents, integrations, messages, tasks, users
from models import DocumentProcessingLog, IntegrationTokenEvent, TaskLog
from models.base import table_of
from models.chat import SessionStatus
from models.integrations import IntegrationStatus
from models.tasks import TaskStatus

log = logging.getLogger("gateway.retention")

DEFAULT_BATCH_SIZE = 1000

# The seed tables are loaders/visibility.py's; the log tables only the purge reads.
task_logs = table_of(TaskLog)
document_logs = table_of(DocumentProcessingLog)
token_events = table_of(IntegrationTokenEvent)

RemoveFiles = Callable[[Sequence[str]], Awaitable[int]]  # removes stored files, answers how many failed


def older_than(column: ColumnElement[Any], *, days: int = 0, months: int = 0, years: int = 0) -> ColumnElement[bool]:
    """`column` is set and further back than the period (calendar months and years, as the seed says them)."""
    return column < func.now() - func.make_interval(years, months, 0, days)


@dataclass(frozen=True)
class Step:
    """Rows of `table` matching `where`, removed in batches; `files` names a column of stored file paths
    to remove after each batch commits."""

    table: Table
    where: ColumnElement[bool]
    files: ColumnElement[Any] | None = None


@dataclass(frozen=True)
class Rule:
    name: str
    policy: str  # the seed's words
    steps: tuple[Step, ...]  # children first; the last step removes the rows the rule is about


@dataclass
class RuleOutcome:
    rule: str
    policy: str
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows removed (or that would be)
    files: int = 0
    file_failures: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def ids_of(table: Table, where: ColumnElement[bool]) -> Select[Any]:
    return select(table.c.id).where(where)


def _sessions_rule(name: str, policy: str, expired: ColumnElement[bool]) -> Rule:
    return Rule(
        name,
        policy,
        (
            Step(messages, messages.c.session_id.in_(ids_of(chat_sessions, expired))),
            Step(chat_sessions, expired),
        ),
    )


DELETED_SESSION = (chat_sessions.c.status == SessionStatus.DELETED) & older_than(chat_sessions.c.deleted_at, days=30)
ARCHIVED_SESSION = (chat_sessions.c.status == SessionStatus.ARCHIVED) & older_than(
    chat_sessions.c.last_activity_at, years=2
)
COMPLETED_TASK = (tasks.c.status == TaskStatus.COMPLETED) & older_than(tasks.c.completed_at, years=1)
# Cancelled tasks are not named by the seed; they ended without a result, like failed ones (docs/decisions.md).
FAILED_TASK = tasks.c.status.in_((TaskStatus.FAILED, TaskStatus.CANCELLED)) & older_than(tasks.c.completed_at, months=6)
DELETED_DOCUMENT = older_than(documents.c.deleted_at, days=30)
# Disconnecting sets `deleted_at`: the time of disconnection.
DISCONNECTED_INTEGRATION = (integrations.c.status == IntegrationStatus.DISCONNECTED) & older_than(
    integrations.c.deleted_at, days=90
)
DELETED_ACCOUNT = older_than(users.c.deleted_at, days=30)


def _tasks_rule(name: str, policy: str, expired: ColumnElement[bool]) -> Rule:
    return Rule(name, policy, (Step(task_logs, task_logs.c.task_id.in_(ids_of(tasks, expired))), Step(tasks, expired)))


def _documents_steps(expired: ColumnElement[bool]) -> tuple[Step, ...]:
    return (
        Step(document_logs, document_logs.c.document_id.in_(ids_of(documents, expired))),
        Step(documents, expired, files=documents.c.file_path),
    )


def _integrations_steps(expired: ColumnElement[bool]) -> tuple[Step, ...]:
    return (
        Step(token_events, token_events.c.integration_id.in_(ids_of(integrations, expired))),
        Step(integrations, expired),
    )


def _account_rule() -> Rule:
    """Everything an account owns, children first, then the account row itself (which frees the email)."""
    expired_users = ids_of(users, DELETED_ACCOUNT)
    owned = {
        table.name: table.c.user_id.in_(expired_users) for table in (chat_sessions, tasks, documents, integrations)
    }
    return Rule(
        "deleted-accounts",
        "Deleted accounts: 30 days after deletion, with everything they own (the email is free again)",
        (
            Step(messages, messages.c.session_id.in_(ids_of(chat_sessions, owned["chat_sessions"]))),
            Step(task_logs, task_logs.c.task_id.in_(ids_of(tasks, owned["tasks"]))),
            Step(tasks, owned["tasks"]),
            Step(chat_sessions, owned["chat_sessions"]),
            *_documents_steps(owned["documents"]),
            *_integrations_steps(owned["integrations"]),
            Step(users, DELETED_ACCOUNT),
        ),
    )


def rules() -> list[Rule]:
    """Every retention rule, in the order the purge applies them."""
    return [
        _sessions_rule("deleted-chat-sessions", "Deleted sessions: 30 days (soft delete)", DELETED_SESSION),
        _sessions_rule(
            "archived-chat-sessions", "Archived sessions: 2 years after their last activity", ARCHIVED_SESSION
        ),
        Rule(
            "deleted-documents",
            "Deleted documents: 30 days (soft delete), the stored file too",
            _documents_steps(DELETED_DOCUMENT),
        ),
        Rule(
            "document-processing-logs",
            "Processing logs: 90 days",
            (Step(document_logs, older_than(document_logs.c.logged_at, days=90)),),
        ),
        Rule(
            "disconnected-integrations",
            "Disconnected integrations: 90 days after disconnection",
            _integrations_steps(DISCONNECTED_INTEGRATION),
        ),
        Rule(
            "token-refresh-history",
            "Token refresh history: 30 days",
            (Step(token_events, older_than(token_events.c.attempted_at, days=30)),),
        ),
        _tasks_rule("completed-tasks", "Completed tasks: 1 year", COMPLETED_TASK),
        _tasks_rule("failed-tasks", "Failed (and cancelled) tasks: 6 months", FAILED_TASK),
        Rule("task-logs", "Task logs: 90 days", (Step(task_logs, older_than(task_logs.c.logged_at, days=90)),)),
        _account_rule(),
    ]


async def _remove_batch(db: AsyncSession, step: Step, batch_size: int) -> tuple[int, list[str]]:
    doomed = (
        select(step.table.c.id).where(step.where).limit(batch_size).with_for_update(skip_locked=True).scalar_subquery()
    )
    returning: list[ColumnElement[Any]] = [step.table.c.id]
    if step.files is not None:
        returning.append(step.files)
    removed = (await db.execute(delete(step.table).where(step.table.c.id.in_(doomed)).returning(*returning))).all()
    paths = [str(row[1]) for row in removed if step.files is not None and row[1]]
    return len(removed), paths


async def _count(db: AsyncSession, step: Step) -> int:
    return int((await db.execute(select(func.count()).select_from(step.table).where(step.where))).scalar_one())


async def apply_rule(
    sessions: async_sessionmaker[AsyncSession],
    rule: Rule,
    *,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    remove_files: RemoveFiles | None = None,
) -> RuleOutcome:
    started = time.monotonic()
    outcome = RuleOutcome(rule.name, rule.policy)
    for step in rule.steps:
        name = step.table.name
        if dry_run:
            async with sessions() as db:
                outcome.rows[name] = outcome.rows.get(name, 0) + await _count(db, step)
            continue
        while True:
            async with sessions() as db, db.begin():
                removed, paths = await _remove_batch(db, step, batch_size)
            outcome.rows[name] = outcome.rows.get(name, 0) + removed
            if paths:
                failures = await remove_files(paths) if remove_files is not None else len(paths)
                outcome.files += len(paths) - failures
                outcome.file_failures += failures
            if removed < batch_size:
                # Fewer than asked: nothing expired is left, or what is left is locked by another purge
                # (which removes it).
                break
    outcome.seconds = time.monotonic() - started
    return outcome


async def purge(
    sessions: async_sessionmaker[AsyncSession],
    *,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    remove_files: RemoveFiles | None = None,
    only: Sequence[str] = (),
) -> list[RuleOutcome]:
    """Apply every rule (or those named in `only`), each to the end, in order."""
    outcomes = []
    for rule in rules():
        if only and rule.name not in only:
            continue
        outcome = await apply_rule(sessions, rule, dry_run=dry_run, batch_size=batch_size, remove_files=remove_files)
        log.info(
            "retention %s%s: %s",
            rule.name,
            " (dry run)" if dry_run else "",
            ", ".join(f"{rows} {table}" for table, rows in outcome.rows.items()) or "nothing",
        )
        outcomes.append(outcome)
    return outcomes
