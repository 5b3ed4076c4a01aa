"""`gateway`: serve, worker-less migrate, schema export, demo data, operator roles."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from gateway.settings import get_settings

app = typer.Typer(help="Assistant Gateway: the GraphQL API of the assistant.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
SCHEMA_FILE = Path("schema.graphql")


def _urls() -> tuple[str, str]:
    from gateway.embedded import ensure_servers

    settings = get_settings()
    urls = ensure_servers(settings.database_url, settings.redis_url, settings.data_dir)
    assert urls.database_url is not None and urls.redis_url is not None
    return urls.database_url, urls.redis_url


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    migrate: Annotated[bool, typer.Option(help="Apply migrations before serving.")] = True,
) -> None:
    """Serve the API (GraphiQL at /graphql). Starts embedded PostgreSQL/Redis when their URLs are unset."""
    import uvicorn

    from gateway import migrate as migrations
    from graph.app import create_app, open_resources

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    embedded = settings.database_url is None or settings.redis_url is None
    run_worker = settings.run_worker if settings.run_worker is not None else embedded
    database_url, redis_url = _urls()
    if migrate:
        migrations.upgrade(database_url)

    async def main() -> None:
        from jobs import worker

        stop_worker = asyncio.Event()
        worker_task = (asyncio.create_task(worker.run(settings, database_url=database_url, redis_url=redis_url,
                                                      stop=stop_worker)) if run_worker else None)
        resources = await open_resources(settings, database_url=database_url, redis_url=redis_url)
        # Start-up objects live for the whole process: keep them out of the collector's way.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 50, 100)
        config = uvicorn.Config(create_app(resources), host=host, port=port, log_level="info",
                                ws_max_size=1 << 20, proxy_headers=False)
        server = uvicorn.Server(config)
        typer.echo(f"GraphiQL: http://{host}:{port}/graphql")
        try:
            await server.serve()
        finally:
            from graph.app import close_resources

            stop_worker.set()
            if worker_task is not None:
                await worker_task
            await close_resources(resources)

    asyncio.run(main())


@app.command(name="worker")
def worker_command() -> None:
    """Run the background worker: tasks (one queue per priority), agent health checks, recovery."""
    from jobs import worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    database_url, redis_url = _urls()
    worker.main(get_settings(), database_url=database_url, redis_url=redis_url)


@app.command(name="migrate")
def migrate_command() -> None:
    """Apply database migrations (alembic upgrade head)."""
    from gateway import migrate as migrations

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
    from gateway import migrate as migrations
    from gateway.demo import DEMO_EMAIL, DEMO_PASSWORD, seed

    database_url, _ = _urls()
    migrations.upgrade(database_url)
    created = asyncio.run(seed(database_url))
    typer.echo("demo data " + ("created" if created else "already present"))
    typer.echo(f"sign in with: email {DEMO_EMAIL}  password {DEMO_PASSWORD}")
    typer.echo('  mutation { login(input: {email: "%s", password: "%s"}) { accessToken } }'
               % (DEMO_EMAIL, DEMO_PASSWORD))
    typer.echo('then set the header  {"Authorization": "Bearer <accessToken>"}  in GraphiQL')


def _set_role(email: str, role_name: str) -> None:
    from gateway.db import create_engine, session_factory
    from models.users import UserRole
    from resolvers.operators import set_role

    database_url, _ = _urls()

    async def apply() -> bool:
        engine = create_engine(database_url, pool_size=1)
        try:
            async with session_factory(engine)() as session, session.begin():
                return await set_role(session, email, UserRole(role_name))
        finally:
            await engine.dispose()

    if not asyncio.run(apply()):
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


def main() -> None:  # pragma: no cover
    sys.exit(app())
