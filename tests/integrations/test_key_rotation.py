"""`gateway rotate-encryption-key`: every stored secret re-encrypted under the newest key id, tokens and agent
keys still usable with only the new key afterwards, and a second run finds nothing to do."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from gateway.db import create_engine, session_factory
from models import Integration
from models.agents import SealedKey
from resolvers.agent_links import seal_key, unseal_key
from resolvers.integration_vault import Vault, seal, unseal_access, unseal_refresh
from services.crypto import SecretBox
from services.egress import EgressPolicy
from services.events import EventHub
from services.oauth.client import TokenSet
from services.oauth.providers import Registry
from services.task_queues import TaskQueues
from tests.conftest import _dsn, create_database, drop_database
from tests.live import GATEWAY

OLD, NEW = os.urandom(32), os.urandom(32)


def setting(*pairs: tuple[str, bytes]) -> str:
    return ",".join(f"{kid}:{base64.b64encode(key).decode()}" for kid, key in pairs)


@pytest.fixture
def scratch(pg_server_url: str) -> Iterator[str]:
    from migrations import migrate

    url = create_database(pg_server_url, "gateway_rotation")
    migrate.upgrade(url)
    yield url
    drop_database(pg_server_url, url)


def rotate(database_url: str, redis_url: str, data_dir: Path) -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GATEWAY_")}
    env.update(
        DATABASE_URL=database_url.replace("+asyncpg", ""),
        REDIS_URL=redis_url,
        GATEWAY_DATA_DIR=str(data_dir),
        GATEWAY_ENCRYPTION_KEYS=setting(("new", NEW), ("old", OLD)),
    )
    done = subprocess.run([GATEWAY, "rotate-encryption-key"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_rotation_reencrypts_everything_and_only_the_new_key_is_needed_after(
    scratch: str, redis_url: str, tmp_path: Path
) -> None:
    old_box = SecretBox({"old": OLD}, primary="old")
    connection = await asyncpg.connect(_dsn(scratch))
    try:
        user_id = await connection.fetchval(
            "INSERT INTO users (email, password_hash, first_name, last_name)"
            " VALUES ('rot@example.com', 'x', 'R', 'K') RETURNING id"
        )
        integration_ids = []
        for index in range(3):
            provider = ["gmail", "slack", "hubspot"][index]
            tokens = TokenSet(f"at-{index}", f"rt-{index}", datetime.now(UTC) + timedelta(hours=1), ("openid",))
            sealed = seal(old_box, user_id, provider, tokens)
            integration_ids.append(
                await connection.fetchval(
                    "INSERT INTO integrations (user_id, provider, encrypted_tokens, refresh_token_encrypted,"
                    " token_expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    user_id,
                    provider,
                    sealed.access,
                    sealed.refresh,
                    sealed.expires_at,
                )
            )
        agent_id = uuid.uuid4()
        endpoint = "https://agent.example/mcp"
        config = {
            "authentication": {
                "type": "apikey",
                "config": seal_key(old_box, agent_id, "https://agent.example:443", "k-1", header="X-API-Key").dump(),
            }
        }
        await connection.execute(
            "INSERT INTO mcp_agents (id, name, endpoint, configuration) VALUES ($1, 'rot-agent', $2, $3)",
            agent_id,
            endpoint,
            json.dumps(config),
        )
    finally:
        await connection.close()

    output = await asyncio.to_thread(rotate, scratch, redis_url, tmp_path)
    assert "3 integration(s), 1 agent key(s); 0 skipped" in output
    again = await asyncio.to_thread(rotate, scratch, redis_url, tmp_path)
    assert "0 integration(s), 0 agent key(s); 0 skipped" in again

    new_only = SecretBox({"new": NEW}, primary="new")
    connection = await asyncpg.connect(_dsn(scratch))
    try:
        rows = await connection.fetch("SELECT * FROM integrations ORDER BY provider")
        agent = await connection.fetchrow("SELECT * FROM mcp_agents WHERE id = $1", agent_id)
    finally:
        await connection.close()
    for row in rows:
        assert row["encrypted_tokens"].startswith("v1:new:") and row["refresh_token_encrypted"].startswith("v1:new:")
        model = Integration(**{key: row[key] for key in ("id", "user_id", "provider", "encrypted_tokens")})
        model.refresh_token_encrypted = row["refresh_token_encrypted"]
        index = ["gmail", "slack", "hubspot"].index(row["provider"])
        assert unseal_access(new_only, model) == f"at-{index}"
        assert unseal_refresh(new_only, model) == f"rt-{index}"
    sealed_key = SealedKey.parse(json.loads(agent["configuration"])["authentication"]["config"])
    assert sealed_key.secret is not None and sealed_key.secret.startswith("v1:new:")
    assert unseal_key(new_only, agent_id, endpoint, sealed_key) == "k-1"

    # The vault serves the tokens with only the new key.
    from redis.asyncio import Redis

    engine = create_engine(scratch, pool_size=2)
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        vault = Vault(
            sessionmaker=session_factory(engine),
            redis=redis,
            box=new_only,
            policy=EgressPolicy(),
            registry=Registry.from_settings({}),
            events=EventHub(redis),
            queues=TaskQueues(redis_url),
        )
        lent = await vault.token(integration_ids[0])
        assert lent.access_token == "at-0"
    finally:
        await vault.queues.disconnect()
        await redis.aclose()
        await engine.dispose()
