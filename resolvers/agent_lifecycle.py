"""The agent lifecycle: `status` and `deleted_at` of MCP agents, and who moves them. The only module that writes
either; every move is one conditional UPDATE answering the moved row, or None when the agent was not in a state
the move starts from.

    active | error --deactivate--> inactive          (an operator takes it out of use: no new tasks, no checks)
    inactive | error --activate--> active            (an operator puts it back)
    active --fail--> error                           (health checks: unhealthy after consecutive failures)
    error --recover--> active                        (health checks: it answers again)
    live --delete--> deleted (deleted_at set)        (an operator; its name is free while it stays deleted)
    deleted --restore--> live                        (an operator, while no live agent took its name)
"""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import MCPAgent
from models.agents import AgentStatus
from resolvers.moves import Move, Moves


class AgentMove(StrEnum):
    DEACTIVATE = "deactivate"
    ACTIVATE = "activate"
    FAIL = "fail"
    RECOVER = "recover"


MOVES: Moves[AgentMove, AgentStatus] = Moves(
    {
        AgentMove.DEACTIVATE: Move(frozenset({AgentStatus.ACTIVE, AgentStatus.ERROR}), AgentStatus.INACTIVE),
        AgentMove.ACTIVATE: Move(frozenset({AgentStatus.INACTIVE, AgentStatus.ERROR}), AgentStatus.ACTIVE),
        AgentMove.FAIL: Move(frozenset({AgentStatus.ACTIVE}), AgentStatus.ERROR),
        AgentMove.RECOVER: Move(frozenset({AgentStatus.ERROR}), AgentStatus.ACTIVE),
    }
)
# Agents the health cron checks: an inactive agent is out of use; an agent in error is checked so it recovers.
CHECKED = frozenset({AgentStatus.ACTIVE, AgentStatus.ERROR})


async def _refreshed(db: AsyncSession, agent_id: uuid.UUID) -> MCPAgent | None:
    return await db.get(MCPAgent, agent_id, populate_existing=True)


async def move(db: AsyncSession, name: AgentMove, agent_id: uuid.UUID) -> MCPAgent | None:
    """Move a live agent; None when it is deleted or not in a state the move starts from."""
    return await _refreshed(db, agent_id) if await advance(db, name, agent_id) else None


async def advance(db: AsyncSession, name: AgentMove, agent_id: uuid.UUID) -> bool:
    """`move` without reading the row back (for an agent whose row may not read: a failed health check);
    False when it is deleted or not in a state the move starts from."""
    rule = MOVES[name]
    moved = (
        await db.execute(
            update(MCPAgent)
            .where(
                col(MCPAgent.id) == agent_id,
                col(MCPAgent.deleted_at).is_(None),
                col(MCPAgent.status).in_(tuple(rule.sources)),
            )
            .values(status=rule.target, updated_at=func.now())
            .returning(col(MCPAgent.id))
        )
    ).first()
    return moved is not None


async def delete(db: AsyncSession, agent_id: uuid.UUID) -> MCPAgent | None:
    moved = (
        await db.execute(
            update(MCPAgent)
            .where(col(MCPAgent.id) == agent_id, col(MCPAgent.deleted_at).is_(None))
            .values(deleted_at=func.now(), updated_at=func.now())
            .returning(col(MCPAgent.id))
        )
    ).first()
    return await _refreshed(db, agent_id) if moved is not None else None


async def restore(db: AsyncSession, agent_id: uuid.UUID) -> MCPAgent | None:
    """deleted -> live; None when it is not deleted. Raises IntegrityError when a live agent has its name
    (the partial unique index decides, also against a concurrent register)."""
    moved = (
        await db.execute(
            update(MCPAgent)
            .where(col(MCPAgent.id) == agent_id, col(MCPAgent.deleted_at).is_not(None))
            .values(deleted_at=None, updated_at=func.now())
            .returning(col(MCPAgent.id))
        )
    ).first()
    return await _refreshed(db, agent_id) if moved is not None else None
