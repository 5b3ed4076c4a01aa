"""`gateway`: serve, worker-less migrate, schema export, demo data, operator roles."""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from gateway import logs
from gateway.settings import Settings, get_settings
from services import tracing

app = typer.Typer(
    help="Assistant Gateway: the GraphQL API of the assistant.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
SCHEMA_FILE = Path("schema.graphql")


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    # SIGTERM's default action kills the process on the spot, skipping `finally` and atexit, which is
    # how embedded servers were left running. uvicorn restores this handler and re-raises the signal
    # once it has shut down, so the exit goes through the clean-up below.
    raise SystemExit(128 + signum)


@contextmanager
def _owning_servers() -> Iterator[None]:
    """Stop the embedded servers this command started, whichever way it ends: normally, on an error
    half-way through start-up, on SIGINT (KeyboardInterrupt) or SIGTERM (SystemExit)."""
    from gateway.embedded import stop_all

    previous = signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        yield
    finally:
        # Stopping takes a moment; a second Ctrl-C must not cut it short (the servers would still die
        # with us on Linux, but without their clean shutdown).
        held = {signum: signal.signal(signum, signal.SIG_IGN) for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            stop_all()
        finally:
            for signum, handler in held.items():
                signal.signal(signum, handler)
            signal.signal(signal.SIGTERM, previous)


def _urls() -> tuple[str, str]:
    from gateway.embedded import EmbeddedServerError, ensure_servers

    settings = get_settings()
    try:
        urls = ensure_servers(settings.database_url, settings.redis_url, settings.data_dir)
    except EmbeddedServerError as error:
        # What to do, not a traceback (the clean-up in _owning_servers still runs).
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    assert urls.database_url is not None and urls.redis_url is not None
    return urls.database_url, urls.redis_url


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    migrate: Annotated[bool, typer.Option(help="Apply migrations before serving.")] = True,
) -> None:
    """Serve the API (GraphiQL at /graphql). Starts embedded PostgreSQL/Redis when their URLs are unset."""
    from migrations import migrate as migrations

    logs.configure(json_lines=get_settings().log_format == "json")
    tracing.configure("assistant-gateway")
    settings = get_settings()
    embedded = settings.database_url is None or settings.redis_url is None
    run_worker = settings.run_worker if settings.run_worker is not None else embedded
    with _owning_servers():
        database_url, redis_url = _urls()
        if migrate:
            migrations.upgrade(database_url)
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(
                _serve(
                    settings,
                    database_url=database_url,
                    redis_url=redis_url,
                    host=host,
                    port=port,
                    run_worker=run_worker,
                )
            )


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (uvicorn[standard] brings it, except on Windows), as
    `uvicorn.run` would pick: its transports write to sockets in C (a subscription delivery is one write
    per socket). Elsewhere asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def _serve(
    settings: Settings, *, database_url: str, redis_url: str, host: str, port: int, run_worker: bool
) -> None:
    import uvicorn

    from cli.http import GuardedHttpToolsProtocol, LeanWebSocketProtocol
    from graph.app import create_app
    from jobs import worker
    from services.resources import close_resources, open_resources

    resources = await open_resources(settings, database_url=database_url, redis_url=redis_url)
    stop_worker = asyncio.Event()
    worker_task: asyncio.Task[None] | None = None
    try:
        if run_worker:
            worker_task = asyncio.create_task(
                worker.run(settings, database_url=database_url, redis_url=redis_url, stop=stop_worker)
            )
        # Start-up objects live for the whole process: keep them out of the collector's way.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 50, 100)
        GuardedHttpToolsProtocol.configure(
            resources.proxies, settings.http_header_timeout, settings.max_connections_per_address
        )
        config = uvicorn.Config(
            create_app(resources),
            host=host,
            port=port,
            log_level="info",
            log_config=None,  # our handlers (gateway/logs.py): JSON lines, no access log
            access_log=False,
            ws_max_size=1 << 20,
            proxy_headers=False,
            http=GuardedHttpToolsProtocol,
            ws=LeanWebSocketProtocol,
            # No permessage-deflate: browsers offer it on every socket, and accepting it cost 43 KiB of
            # memory per socket (its zlib contexts) for frames of a few hundred bytes (docs/decisions.md).
            ws_per_message_deflate=False,
        )
        server = uvicorn.Server(config)
        typer.echo(f"GraphiQL: http://{host}:{port}/graphql")
        await server.serve()
    finally:
        stop_worker.set()
        if worker_task is not None:
            await worker_task
        await close_resources(resources)


@app.command(name="worker")
def worker_command() -> None:
    """Run the background worker: tasks (one queue per priority), agent health checks, recovery."""
    from jobs import worker

    logs.configure(json_lines=get_settings().log_format == "json")
    tracing.configure("assistant-gateway")
    with _owning_servers():
        database_url, redis_url = _urls()
        worker.main(get_settings(), database_url=database_url, redis_url=redis_url)


@app.command(name="migrate")
def migrate_command() -> None:
    """Apply database migrations (alembic upgrade head)."""
    from migrations import migrate as migrations

    with _owning_servers():
        database_url, _ = _urls()
        migrations.upgrade(database_url)
    typer.echo("database is at the latest revision")


@app.command(name="export-schema")
def export_schema(
    check: Annotated[bool, typer.Option("--check", help="Fail if schema.graphql is out of date.")] = False,
    path: Annotated[Path, typer.Option(help="Where the printed schema lives.")] = SCHEMA_FILE,
) -> None:
    """Print the schema to schema.graphql (or check that it is current)."""
    from graph.schema import printed_schema

    printed = printed_schema()
    if check:
        if not path.exists() or path.read_text() != printed:
            typer.echo(f"{path} is out of date: run `gateway export-schema`", err=True)
            raise typer.Exit(1)
        typer.echo(f"{path} is current")
        return
    path.write_text(printed)
    typer.echo(f"wrote {path}")


@app.command(name="seed-demo")
def seed_demo() -> None:
    """Create a demo account with realistic sessions, messages, documents, agents and tasks."""
    from cli.demo import DEMO_EMAIL, DEMO_PASSWORD, seed
    from migrations import migrate as migrations

    with _owning_servers():
        database_url, _ = _urls()
        migrations.upgrade(database_url)
        created = asyncio.run(seed(database_url))
    typer.echo("demo data " + ("created" if created else "already present"))
    typer.echo(f"sign in with: email {DEMO_EMAIL}  password {DEMO_PASSWORD}")
    typer.echo(
        f'  mutation {{ login(input: {{email: "{DEMO_EMAIL}", password: "{DEMO_PASSWORD}"}}) {{ accessToken }} }}'
    )
    typer.echo('then set the header  {"Authorization": "Bearer <accessToken>"}  in GraphiQL')


def _set_role(email: str, role_name: str) -> None:
    from gateway.db import create_engine, session_factory
    from models.users import UserRole
    from resolvers.operators import set_role

    async def apply(database_url: str) -> bool:
        engine = create_engine(database_url, pool_size=1)
        try:
            async with session_factory(engine)() as session, session.begin():
                return await set_role(session, email, UserRole(role_name))
        finally:
            await engine.dispose()

    with _owning_servers():
        database_url, _ = _urls()
        changed = asyncio.run(apply(database_url))
    if not changed:
        typer.echo(f"no account with email {email}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{email} is now {'an operator' if role_name == 'operator' else 'a regular user'}")


@app.command(name="grant-operator")
def grant_operator(email: str) -> None:
    """Let an account change the shared MCP agent registry."""
    _set_role(email, "operator")


@app.command(name="revoke-operator")
def revoke_operator(email: str) -> None:
    """Make an operator a regular user again."""
    _set_role(email, "user")


@app.command(name="purge")
def purge_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what each rule would remove; remove nothing.")
    ] = False,
    batch_size: Annotated[
        int, typer.Option(min=1, max=100_000, help="Rows per delete (one short transaction each).")
    ] = 1000,
) -> None:
    """Apply the retention policies once (the worker runs this daily) and print what each rule removed."""
    from jobs.retention import run_purge
    from services.resources import close_resources, open_resources

    async def run(database_url: str, redis_url: str) -> list[tuple[str, str, dict[str, int], int]]:
        resources = await open_resources(get_settings(), database_url=database_url, redis_url=redis_url, pool_size=2)
        try:
            outcomes = await run_purge(resources, dry_run=dry_run, batch_size=batch_size)
        finally:
            await close_resources(resources)
        return [(o.rule, o.policy, o.rows, o.files) for o in outcomes]

    with _owning_servers():
        database_url, redis_url = _urls()
        outcomes = asyncio.run(run(database_url, redis_url))
    verb = "would remove" if dry_run else "removed"
    for rule, policy, rows, files in outcomes:
        removed = ", ".join(f"{count} {table}" for table, count in rows.items() if count) or "nothing"
        stored = f" and {files} stored file(s)" if files else ""
        typer.echo(f"{rule:<28} {verb} {removed}{stored}    ({policy})")
    total = sum(sum(rows.values()) for _, _, rows, _ in outcomes)
    typer.echo(f"{'total':<28} {verb} {total} row(s)")


# -- Integrations (issue 11) -------------------------------------------------------------------------


@app.command(name="refresh-tokens")
def refresh_tokens() -> None:
    """Refresh every integration token that expires soon, once (the worker's cron does this every minute)."""
    from jobs.integrations import refresh_once

    logs.configure(json_lines=get_settings().log_format == "json")
    with _owning_servers():
        database_url, redis_url = _urls()
        report = asyncio.run(refresh_once(get_settings(), database_url=database_url, redis_url=redis_url))
    typer.echo(f"{report.refreshed} refreshed, {report.expired} expired, {report.failed} failed")


@app.command(name="rotate-encryption-key")
def rotate_encryption_key() -> None:
    """Re-encrypt every stored secret (integration tokens, agent keys) under the first key of
    GATEWAY_ENCRYPTION_KEYS, in batches; safe to re-run and to run while serving."""
    from gateway.db import create_engine, session_factory
    from resolvers.key_rotation import RotationReport, rotate
    from services.resources import secret_box

    settings = get_settings()

    async def run(database_url: str) -> RotationReport:
        engine = create_engine(database_url, pool_size=2)
        try:
            return await rotate(session_factory(engine), secret_box(settings))
        finally:
            await engine.dispose()

    with _owning_servers():
        database_url, _ = _urls()
        report = asyncio.run(run(database_url))
    typer.echo(
        f"re-encrypted under {secret_box(settings).primary}: {report.integrations} integration(s), "
        f"{report.agents} agent key(s); {report.skipped} skipped"
    )
    if report.skipped:
        typer.echo("run it again before removing old keys", err=True)


def main() -> None:  # pragma: no cover
    sys.exit(app())
