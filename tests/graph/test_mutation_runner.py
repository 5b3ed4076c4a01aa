"""The one mutation runner (graph/mutations.py): a rejection becomes payload errors and writes nothing,
hooks run only after the commit, a failed commit is an error, a failing hook leaves the answer alone."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text

from graph.errors import UserError
from graph.mutations import mutate
from loaders.session import RequestDb
from resolvers.problems import ErrorCode, Problem, Rejected
from resolvers.unit_of_work import UnitOfWork, run_unit_of_work


@dataclass
class Answer:
    title: str | None = None
    errors: list[UserError] = field(default_factory=list)


def request_info(resources: Any) -> Any:
    """What the runner reads of strawberry's Info: the request's database and the process's clients."""
    return SimpleNamespace(context=SimpleNamespace(db=RequestDb(resources.sessionmaker), resources=resources))


async def insert_chat_session(uow: UnitOfWork, user_id: uuid.UUID, title: str) -> str:
    await uow.db.execute(
        text("INSERT INTO chat_sessions (user_id, title) VALUES (:user_id, :title)"),
        {"user_id": user_id, "title": title},
    )
    return title


async def titles(pg: asyncpg.Connection, user_id: uuid.UUID) -> list[str]:
    return [row["title"] for row in await pg.fetch("SELECT title FROM chat_sessions WHERE user_id = $1", user_id)]


@pytest.fixture
def user_id(user: Any) -> uuid.UUID:
    return user.pk


async def test_a_rejection_becomes_payload_errors_and_writes_nothing(resources, pg, user_id) -> None:
    info = request_info(resources)
    ran: list[str] = []

    async def work(uow: UnitOfWork) -> str:
        await insert_chat_session(uow, user_id, "written, then refused")
        uow.after_commit(lambda: _record(ran, "hook"))
        raise Rejected([Problem("input.title", ErrorCode.INVALID, "No.")])

    answer = await mutate(info, work, lambda title: Answer(title=title), Answer)
    await info.context.db.close()

    assert answer.title is None
    assert [(error.field, error.code, error.message) for error in answer.errors] == [
        ("input.title", ErrorCode.INVALID, "No.")
    ]
    assert await titles(pg, user_id) == []
    assert ran == []


async def test_hooks_run_only_after_the_commit(resources, pg, user_id) -> None:
    info = request_info(resources)
    seen_by_hook: list[list[str]] = []

    async def hook() -> None:
        # Another connection sees the row: the transaction committed before the hook ran.
        seen_by_hook.append(await titles(pg, user_id))

    async def work(uow: UnitOfWork) -> str:
        title = await insert_chat_session(uow, user_id, "committed first")
        uow.after_commit(hook)
        assert seen_by_hook == []  # registering runs nothing
        return title

    answer = await mutate(info, work, lambda title: Answer(title=title), Answer)
    await info.context.db.close()

    assert answer == Answer(title="committed first")
    assert seen_by_hook == [["committed first"]]


async def test_a_failed_commit_is_an_error_and_runs_no_hook(resources, pg, user_id) -> None:
    info = request_info(resources)
    ran: list[str] = []

    async def work(uow: UnitOfWork) -> str:
        # Checked only at the commit: the insert itself succeeds, the commit fails.
        await uow.db.execute(
            text(
                "CREATE TEMPORARY TABLE runner_probe (id int PRIMARY KEY DEFERRABLE INITIALLY DEFERRED) ON COMMIT DROP"
            )
        )
        await uow.db.execute(text("INSERT INTO runner_probe VALUES (1), (1)"))
        await insert_chat_session(uow, user_id, "never committed")
        uow.after_commit(lambda: _record(ran, "hook"))
        return "a false success"

    with pytest.raises(Exception, match="runner_probe"):
        await mutate(info, work, lambda title: Answer(title=title), Answer)
    await info.context.db.close()

    assert await titles(pg, user_id) == []
    assert ran == []


async def test_a_failing_hook_is_logged_and_the_answer_stands(resources, pg, user_id, caplog) -> None:
    info = request_info(resources)
    ran: list[str] = []

    async def failing() -> None:
        raise RuntimeError("Redis is away")

    async def work(uow: UnitOfWork) -> str:
        title = await insert_chat_session(uow, user_id, "stands")
        uow.after_commit(failing)
        uow.after_commit(lambda: _record(ran, "the next hook"))
        return title

    answer = await mutate(info, work, lambda title: Answer(title=title), Answer)
    await info.context.db.close()

    assert answer == Answer(title="stands")
    assert await titles(pg, user_id) == ["stands"]
    assert ran == ["the next hook"]
    assert "after-commit hook failed" in caplog.text


async def test_a_job_runs_its_unit_of_work_on_a_fresh_session(resources, pg, user_id) -> None:
    ran: list[str] = []

    async def work(uow: UnitOfWork) -> str:
        uow.after_commit(lambda: _record(ran, "after"))
        return await insert_chat_session(uow, user_id, "from a job")

    assert await run_unit_of_work(resources.sessionmaker, resources.events, resources.queues, work) == "from a job"
    assert await titles(pg, user_id) == ["from a job"]
    assert ran == ["after"]


async def _record(ran: list[str], what: str) -> None:
    ran.append(what)
