"""The integration lifecycle: its states, the moves allowed between them, and the token history.

This is the only module that writes `integrations.status` (and the token columns with it). Every move is
one conditional UPDATE (`WHERE status IN sources`, plus what the move depends on) answering the moved row,
or None when the row was not in a state the move starts from: the table stays the source of truth when a
refresh, a disconnect and a reconnect race. Moves run inside the caller's transaction and never call out;
publishing the event is for after its commit.

    (none) | any --connect--> connected        (the OAuth callback; the seed's UNIQUE(user_id, provider))
    connected | error --refreshed--> connected  (only while the refresh token is the one that was used)
    connected | error --expire--> expired       (the provider answered invalid_grant)
    connected | error --fail--> error           (refresh failed repeatedly for passing reasons)
    connected | expired | error --disconnect--> disconnected   (tokens emptied, deletedAt set)
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, func, literal_column, null, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import Integration, IntegrationTokenEvent
from models.base import table_of
from models.integrations import IntegrationStatus, TokenEventKind, TokenEventOutcome
from resolvers.moves import Move, Moves


class IntegrationMove(StrEnum):
    REFRESHED = "refreshed"
    EXPIRE = "expire"
    FAIL = "fail"
    NOTE_FAILURE = "note_failure"
    DISCONNECT = "disconnect"


LIVE = frozenset({IntegrationStatus.CONNECTED, IntegrationStatus.ERROR})
MOVES: Moves[IntegrationMove, IntegrationStatus] = Moves(
    {
        IntegrationMove.REFRESHED: Move(LIVE, IntegrationStatus.CONNECTED),
        IntegrationMove.EXPIRE: Move(LIVE, IntegrationStatus.EXPIRED),
        IntegrationMove.FAIL: Move(LIVE, IntegrationStatus.ERROR),
        IntegrationMove.NOTE_FAILURE: Move(LIVE, None),
        IntegrationMove.DISCONNECT: Move(
            frozenset({IntegrationStatus.CONNECTED, IntegrationStatus.EXPIRED, IntegrationStatus.ERROR}),
            IntegrationStatus.DISCONNECTED,
        ),
    }
)
TABLE = table_of(Integration)
FAILURE_KEYS = ("lastError", "refreshFailures", "nextRefreshAt")


def _without_failures(column: Any) -> Any:
    """The metadata document without what a failed refresh left in it."""
    value: Any = func.coalesce(column, literal_column("'{}'::jsonb"))
    for key in FAILURE_KEYS:
        value = value.op("-")(key)
    return value


# A passing refresh failure is tried again after 30 s, 1, 2, 4... minutes (at most 30); this many in a row
# set ERROR.
FAILURES_BEFORE_ERROR = 3


may_move = MOVES.may_move


def last_error(code: str, message: str) -> dict[str, str]:
    """`metadata.lastError` as the seed's IntegrationMetadata has it."""
    return {"code": code[:64], "message": message[:300], "timestamp": datetime.now(UTC).isoformat()}


async def _apply(
    db: AsyncSession,
    name: IntegrationMove,
    integration_id: uuid.UUID,
    values: Mapping[str, Any],
    *,
    owner: uuid.UUID | None = None,
    conditions: tuple[ColumnElement[bool], ...] = (),
) -> Integration | None:
    move = MOVES[name]
    statement = update(Integration).where(
        col(Integration.id) == integration_id,
        col(Integration.status).in_(tuple(move.sources)),
        *conditions,
    )
    if owner is not None:
        statement = statement.where(col(Integration.user_id) == owner)
    changes = {"updated_at": func.now(), **values}
    if move.target is not None:
        changes["status"] = move.target
    statement = statement.values(**changes).returning(col(Integration.id)).execution_options(synchronize_session=False)
    moved = (await db.execute(statement)).first()
    if moved is None:
        return None
    return await db.get(Integration, integration_id, populate_existing=True)


@dataclass(frozen=True)
class SealedTokens:
    """Tokens as stored: ciphertexts only (resolvers/integration_vault.py seals them)."""

    access: str
    refresh: str | None
    expires_at: datetime | None


async def connect(
    db: AsyncSession,
    *,
    user_id: uuid.UUID,
    provider: str,
    tokens: SealedTokens,
    scopes: list[str],
    capabilities: list[str],
    provider_user_id: str | None,
    identity: Mapping[str, Any],
) -> Integration:
    """Store a new connection, or renew the user's existing row for the provider whatever its state (a
    reconnect after an expiry or a disconnect): status connected, lastError and deletedAt cleared."""
    values = {
        "encrypted_tokens": tokens.access,
        "refresh_token_encrypted": tokens.refresh,
        "token_expires_at": tokens.expires_at,
        "scopes": scopes,
        "capabilities": capabilities,
        "provider_user_id": provider_user_id,
        "status": IntegrationStatus.CONNECTED.value,
    }
    statement = insert(TABLE).values(user_id=user_id, provider=provider, metadata=dict(identity), **values)
    upsert = statement.on_conflict_do_update(
        index_elements=["user_id", "provider"],
        set_={
            **values,
            # The account may have changed: its identity replaces the old one; lastError and the failure
            # count go, sync statistics stay.
            "metadata": _without_failures(TABLE.c.metadata).op("||")(statement.excluded.metadata),
            "connected_at": func.now(),
            "updated_at": func.now(),
            "deleted_at": null(),
        },
    ).returning(TABLE.c.id)
    integration_id = (await db.execute(upsert)).scalar_one()
    found = await db.get(Integration, integration_id, populate_existing=True)
    assert found is not None
    return found


async def refreshed(
    db: AsyncSession, integration_id: uuid.UUID, *, used_refresh: str | None, tokens: SealedTokens, scopes: Any = None
) -> Integration | None:
    """New tokens stored, only if the refresh token is still the one the refresh used (compare-and-set:
    a slower refresh never overwrites a newer one). Recovery from ERROR lands here too."""
    values: dict[str, Any] = {
        "encrypted_tokens": tokens.access,
        "refresh_token_encrypted": tokens.refresh,
        "token_expires_at": tokens.expires_at,
        "meta": _without_failures(TABLE.c.metadata),
    }
    if scopes is not None:
        values["scopes"] = scopes
    condition = (
        col(Integration.refresh_token_encrypted) == used_refresh
        if used_refresh is not None
        else col(Integration.refresh_token_encrypted).is_(None)
    )
    return await _apply(db, IntegrationMove.REFRESHED, integration_id, values, conditions=(condition,))


async def expire(db: AsyncSession, integration: Integration, code: str, message: str) -> Integration | None:
    meta = {**(integration.meta or {}), "lastError": last_error(code, message)}
    meta.pop("nextRefreshAt", None)
    return await _apply(db, IntegrationMove.EXPIRE, integration.id, {"meta": meta})


async def note_failure(
    db: AsyncSession, integration: Integration, code: str, message: str, *, next_attempt: datetime
) -> Integration | None:
    """A passing refresh failure: counted, the next attempt put off; ERROR once they repeat."""
    failures = int((integration.meta or {}).get("refreshFailures") or 0) + 1
    meta = {
        **(integration.meta or {}),
        "lastError": last_error(code, message),
        "refreshFailures": failures,
        "nextRefreshAt": next_attempt.isoformat(),
    }
    name = IntegrationMove.FAIL if failures >= FAILURES_BEFORE_ERROR else IntegrationMove.NOTE_FAILURE
    return await _apply(db, name, integration.id, {"meta": meta})


async def disconnect(db: AsyncSession, integration_id: uuid.UUID, *, owner: uuid.UUID) -> Integration | None:
    """Tokens emptied (the column is NOT NULL: an empty string), deletedAt set; kept 90 days."""
    return await _apply(
        db,
        IntegrationMove.DISCONNECT,
        integration_id,
        {
            "encrypted_tokens": "",
            "refresh_token_encrypted": None,
            "token_expires_at": None,
            "deleted_at": func.now(),
        },
        owner=owner,
    )


async def reseal(
    db: AsyncSession, integration_id: uuid.UUID, *, old: tuple[str, str | None], new: tuple[str, str | None]
) -> bool:
    """Key rotation: the same tokens under the newest key, only if the row still holds `old`."""
    statement = (
        update(Integration)
        .where(
            col(Integration.id) == integration_id,
            col(Integration.encrypted_tokens) == old[0],
            col(Integration.refresh_token_encrypted).is_not_distinct_from(old[1]),
        )
        .values(encrypted_tokens=new[0], refresh_token_encrypted=new[1])
        .returning(col(Integration.id))
    )
    return (await db.execute(statement)).first() is not None


async def record(
    db: AsyncSession,
    integration_id: uuid.UUID,
    kind: TokenEventKind,
    outcome: TokenEventOutcome,
    *,
    error_code: str | None = None,
    duration_ms: int | None = None,
) -> None:
    db.add(
        IntegrationTokenEvent(
            integration_id=integration_id,
            kind=kind.value,
            outcome=outcome.value,
            error_code=(error_code or None) and error_code[:64],
            duration_ms=duration_ms,
        )
    )
    await db.flush()
