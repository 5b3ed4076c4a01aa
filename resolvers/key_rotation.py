"""Re-encrypting every stored secret under the newest key id (`gateway rotate-encryption-key`).

Invariants: rows are read in batches by id (keyset, never all at once) and each is rewritten with a
compare-and-set on the ciphertext it was read with, so a refresh, a disconnect or an agent update landing
in between wins and is not overwritten (what they wrote is under the newest key already). Running it again
finds nothing left to do; running it while serving is safe. Old key ids keep decrypting as long as they
stay in GATEWAY_ENCRYPTION_KEYS: remove them only after a run that reports nothing skipped.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from models import Integration, MCPAgent
from resolvers import integration_lifecycle
from resolvers.agent_links import CredentialUnavailable, config_of, seal_key, unseal_key
from resolvers.integration_vault import reseal
from services.credentials import origin_of
from services.crypto import VERSION, DecryptionError, SecretBox

log = logging.getLogger("gateway.keys")
BATCH = 100
Sealed = TypeVar("Sealed", Integration, MCPAgent)  # the tables holding secrets under a key id


@dataclass
class RotationReport:
    integrations: int = 0
    agents: int = 0
    skipped: int = 0  # changed meanwhile (already under the newest key) or unreadable with the keys given


def _current(box: SecretBox, stored: str | None) -> bool:
    return not stored or stored.startswith(f"{VERSION}:{box.primary}:")


async def _batches(
    sessions: async_sessionmaker[AsyncSession], model: type[Sealed], *conditions: ColumnElement[bool]
) -> AsyncIterator[list[Sealed]]:
    """The table's rows meeting `conditions`, a batch at a time by id (keyset), each read in a short session
    of its own so that no transaction stays open across batches."""
    after = uuid.UUID(int=0)
    while True:
        async with sessions() as db:
            statement = select(model).where(col(model.id) > after, *conditions).order_by(col(model.id)).limit(BATCH)
            rows = list((await db.execute(statement)).scalars())
        if not rows:
            return
        after = rows[-1].id
        yield rows


async def _integrations(sessions: async_sessionmaker[AsyncSession], box: SecretBox, report: RotationReport) -> None:
    async for rows in _batches(sessions, Integration, col(Integration.encrypted_tokens) != ""):
        async with sessions() as db, db.begin():
            for row in rows:
                if _current(box, row.encrypted_tokens) and _current(box, row.refresh_token_encrypted):
                    continue
                try:
                    new = reseal(box, row)
                except DecryptionError:
                    log.warning("integration %s: tokens unreadable with the keys given", row.id)
                    report.skipped += 1
                    continue
                old = (row.encrypted_tokens, row.refresh_token_encrypted)
                if await integration_lifecycle.reseal(db, row.id, old=old, new=new):
                    report.integrations += 1
                else:
                    report.skipped += 1


def _resealed_configuration(agent: MCPAgent, box: SecretBox) -> dict[str, Any] | None:
    """The agent's configuration with its key under the newest key id, or None when there is nothing to do."""
    config = config_of(agent)
    sealed = config.sealed_key
    if sealed is None or not sealed.secret or _current(box, sealed.secret):
        return None
    fresh = seal_key(
        box,
        agent.id,
        origin_of(agent.endpoint),
        unseal_key(box, agent.id, agent.endpoint, sealed),
        header=sealed.header,
    )
    key = sealed.model_copy(update={"secret": fresh.secret, "origin": fresh.origin})
    return config.model_copy(update={"authentication": config.authentication.model_copy(update={"config": key})}).dump()


async def _agents(sessions: async_sessionmaker[AsyncSession], box: SecretBox, report: RotationReport) -> None:
    async for rows in _batches(sessions, MCPAgent):
        async with sessions() as db, db.begin():
            for agent in rows:
                try:
                    new = _resealed_configuration(agent, box)
                except (CredentialUnavailable, ValueError):
                    log.warning("agent %s: key unreadable with the keys given", agent.id)
                    report.skipped += 1
                    continue
                if new is None:
                    continue
                changed = await db.execute(
                    update(MCPAgent)
                    .where(col(MCPAgent.id) == agent.id, col(MCPAgent.configuration) == agent.configuration)
                    .values(configuration=new)
                    .returning(col(MCPAgent.id))
                    .execution_options(synchronize_session=False)
                )
                if changed.first() is not None:
                    report.agents += 1
                else:
                    report.skipped += 1


async def rotate(sessions: async_sessionmaker[AsyncSession], box: SecretBox) -> RotationReport:
    report = RotationReport()
    await _integrations(sessions, box, report)
    await _agents(sessions, box, report)
    return report
