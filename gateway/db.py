"""The SQLAlchemy async engine and session factory, with a statement counter for /metrics and tests."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000
_statement_total = 0


def async_url(url: str) -> str:
    """Accept plain `postgresql://` URLs (what operators paste) and use the asyncpg driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def statements_executed() -> int:
    """SQL statements sent by every engine of this process since it started."""
    return _statement_total


def _count_statement(*_: Any) -> None:
    global _statement_total
    _statement_total += 1


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    engine = create_async_engine(
        async_url(url),
        # Up to twice `pool_size` connections, each kept once opened. With `pool_size` kept and as many
        # overflow, an overflow connection was closed as soon as it was returned: a steady load above
        # `pool_size` requests in flight opened a connection (and PostgreSQL a backend) every few requests
        # (issue 14: ~9% of the headline read's server CPU, and a plan of its statement for each new one).
        pool_size=2 * pool_size,
        max_overflow=0,
        pool_pre_ping=False,
        pool_recycle=1800,
        # A failed statement's message (logged, and carried by the exception) names no bound value:
        # parameters hold password hashes, tokens and whatever a user typed.
        hide_parameters=True,
        connect_args={
            "server_settings": {
                "application_name": "assistant-gateway",
                "timezone": "UTC",
                # A backstop: a connection left idle inside a transaction (a bug, or a client that
                # stopped reading) is ended by PostgreSQL instead of holding its locks and pool slot.
                "idle_in_transaction_session_timeout": str(IDLE_IN_TRANSACTION_TIMEOUT_MS),
            }
        },
    )
    event.listen(engine.sync_engine, "before_cursor_execute", _count_statement)
    event.listen(engine.sync_engine, "handle_error", _hide_argument_values)
    return engine


# asyncpg names a value it cannot encode ("invalid input for query argument $1: 'value' (why, often
# repeating the value)"), past `hide_parameters`.
_ARGUMENT_VALUE = re.compile(r"(invalid input for query argument \$\d+): .*", re.DOTALL)


def _hide_argument_values(context: ExceptionContext) -> None:
    """Keep the argument's number, drop its value, from every exception of the chain a log would print
    (and cut what caused the encoding error: its message repeats the value)."""
    error: BaseException | None = context.sqlalchemy_exception
    chain: list[BaseException] = []
    while error is not None and len(chain) < 10:
        chain.append(error)
        error = (
            context.original_exception
            if error is context.sqlalchemy_exception
            else (error.__cause__ or error.__context__)
        )
    for error in chain:
        if error.args and isinstance(error.args[0], str) and _ARGUMENT_VALUE.search(error.args[0]):
            error.args = (_ARGUMENT_VALUE.sub(r"\1 (value hidden)", error.args[0]), *error.args[1:])
            if error is not context.sqlalchemy_exception and error is not context.original_exception:
                error.__cause__ = error.__context__ = None
                error.__suppress_context__ = True


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
