"""Document metadata in Redis for an hour (the seed's cache TTL for frequently accessed documents), so
the rows a client reads again and again (a document list's nodes, a chat's attachments) skip PostgreSQL.

Invalidation cannot race a reader: every change bumps the document's generation (`INCR`) after its
commit, and an entry is served only when it was written under the current generation. A reader that
loaded the row before a change and writes it after the bump writes it under the old generation, which
no later read accepts. Redis away: every read goes to PostgreSQL; a failed bump is logged (the entry
then lives out its hour, the one case a stale read is possible).

Keys carry only UUIDs the gateway made, never client text."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Sequence
from types import SimpleNamespace
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from models import Document
from models.row_codec import RowCodec
from services import keys

log = logging.getLogger("gateway.documents.cache")

TTL_SECONDS = 60 * 60
GENERATION_TTL_SECONDS = 2 * TTL_SECONDS  # outlives every entry written under it
_ROWS = RowCodec.of(Document.__table__)  # type: ignore[attr-defined]


entry_key = keys.document_metadata
generation_key = keys.document_generation


def _encode(row: Any) -> dict[str, Any]:
    return _ROWS.encode(row._asdict() if hasattr(row, "_asdict") else vars(row))


class DocumentCache:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def read(self, ids: Sequence[uuid.UUID]) -> tuple[dict[uuid.UUID, SimpleNamespace], dict[uuid.UUID, int]]:
        """(rows found under their current generation, the generation of every id) in one round trip;
        nothing on a Redis failure."""
        keys = [entry_key(pk) for pk in ids] + [generation_key(pk) for pk in ids]
        try:
            values = await self.redis.mget(keys)
        except (RedisError, OSError):
            log.warning("document cache unreachable; reading PostgreSQL")
            return {}, {}
        entries, generations = values[: len(ids)], values[len(ids) :]
        found: dict[uuid.UUID, SimpleNamespace] = {}
        current: dict[uuid.UUID, int] = {}
        for pk, raw, generation in zip(ids, entries, generations, strict=True):
            current[pk] = int(generation or 0)
            if raw is None:
                continue
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if entry.get("generation") == current[pk]:
                found[pk] = _ROWS.decode(entry["row"])
        return found, current

    async def write(self, rows: Iterable[tuple[uuid.UUID, Any, int]]) -> None:
        """Remember rows as read under the generations `read` answered."""
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for pk, row, generation in rows:
                    pipe.set(entry_key(pk), json.dumps({"generation": generation, "row": _encode(row)}), ex=TTL_SECONDS)
                await pipe.execute()
        except (RedisError, OSError):
            log.warning("document cache unreachable; not caching")

    async def invalidate(self, document_id: uuid.UUID) -> None:
        """After a change commits: entries written before it are never served again."""
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(generation_key(document_id))
                pipe.expire(generation_key(document_id), GENERATION_TTL_SECONDS)
                pipe.delete(entry_key(document_id))
                await pipe.execute()
        except (RedisError, OSError):
            log.warning("could not invalidate the cached document %s", document_id)
