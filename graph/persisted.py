"""Persisted queries, both kinds clients use:

- Automatic persisted queries (Apollo's protocol): a client sends `extensions.persistedQuery.sha256Hash`
  alone; an unknown hash answers `PersistedQueryNotFound`, the client sends the text with the hash once, and
  from then on the hash alone (also by GET, so a CDN can cache it). Registered documents live in Redis,
  shared by every gateway process, for a day since their last registration, at most `MAX_DOCUMENTS` of them;
  a document is registered only once it parsed and validated, and each client address registers at most
  `REGISTER_PER_MINUTE` a minute: the store cannot be flooded.
- Trusted documents (`GATEWAY_TRUSTED_DOCUMENTS`): a manifest of the operations the product's own clients
  send, keyed by their sha256 as Relay and GraphQL Codegen emit it. A client sends the hash (as APQ does, or
  as `documentId`); any other document is refused, over HTTP and WebSocket alike, and nothing is registered.

Known hashes resolve to their text, and parsing and validation of a known text come from the caches
(graph/extensions.py), so they are not done again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from graph.errors import RequestErrorCode
from services import keys, ratelimit

log = logging.getLogger("gateway.persisted")

DOCUMENT_TTL_SECONDS = 24 * 60 * 60
MAX_DOCUMENTS = 10_000
REGISTER_PER_MINUTE = 60
REGISTER_LIMIT = ratelimit.Limit("apq:register", REGISTER_PER_MINUTE, 60)
_HASH = re.compile(r"^(?:sha256:)?([0-9a-f]{64})$")

# Store a document, remember when, and forget the oldest beyond the cap (their texts too), atomically.
_REGISTER = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
local extra = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[5])
if extra > 0 then
  for _, old in ipairs(redis.call('ZPOPMIN', KEYS[2], extra)) do
    if string.len(old) == 64 then redis.call('DEL', ARGV[6] .. old) end
  end
end
return 1
"""


class PersistedQueryError(Exception):
    """A persisted-query request that cannot run: answered as a GraphQL error (HTTP 200, as Apollo
    clients expect for `PersistedQueryNotFound`)."""

    def __init__(self, message: str, code: RequestErrorCode) -> None:
        super().__init__(message)
        self.code = code

    def as_response(self) -> dict[str, Any]:
        return {"errors": [{"message": str(self), "extensions": {"code": self.code.value}}]}


def sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def hash_of(value: object) -> str | None:
    """A sha256 hex digest from a client (`abc...` or `sha256:abc...`), or None if it is not one."""
    found = _HASH.match(value) if isinstance(value, str) else None
    return found.group(1) if found else None


@cache
def load_manifest(path: Path) -> dict[str, str]:
    """A trusted-documents manifest: `{"<sha256>" or "sha256:<sha256>": "<document>"}`. Each entry's key
    must be the hash of its text: a manifest that says otherwise is refused at start-up."""
    raw = json.loads(path.read_text())
    if not isinstance(raw, dict):
        raise SystemExit(f"GATEWAY_TRUSTED_DOCUMENTS: {path} must hold a JSON object of hash -> document")
    documents: dict[str, str] = {}
    for key, text in raw.items():
        digest = hash_of(key)
        if digest is None or not isinstance(text, str) or sha256_of(text) != digest:
            raise SystemExit(f"GATEWAY_TRUSTED_DOCUMENTS: the entry {key[:80]!r} is not the sha256 of its document")
        documents[digest] = text
    return documents


@dataclass
class PersistedQueries:
    redis: Redis
    trusted: dict[str, str] | None = None  # the manifest, when only trusted documents may run

    async def resolve(
        self, query: str | None, extensions: dict[str, Any] | None, document_id: object
    ) -> tuple[str | None, tuple[str, str] | None]:
        """The text to run, and (hash, text) to register once it validated, for a request's `query`,
        `extensions` and `documentId`."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None and document_id is None:
            if self.trusted is not None and query is not None and sha256_of(query) not in self.trusted:
                raise _untrusted()
            return query, None
        digest = hash_of(persisted.get("sha256Hash") if isinstance(persisted, dict) else document_id)
        if digest is None or (isinstance(persisted, dict) and persisted.get("version", 1) != 1):
            raise PersistedQueryError(
                "A persisted query needs a sha256 hex digest (and version 1).", RequestErrorCode.BAD_REQUEST
            )
        if query is not None:
            if sha256_of(query) != digest:
                raise PersistedQueryError("provided sha does not match query", RequestErrorCode.BAD_REQUEST)
            if self.trusted is not None:
                if digest not in self.trusted:
                    raise _untrusted()
                return query, None
            return query, (digest, query)
        if self.trusted is not None:
            text = self.trusted.get(digest)
        else:
            try:
                text = await self.redis.get(keys.persisted_query(digest))
            except (RedisError, OSError):
                # Unknown for now: the client sends the text, which runs (and registers later).
                log.warning("cannot read a persisted query: Redis unreachable")
                text = None
        if text is None:
            raise PersistedQueryError("PersistedQueryNotFound", RequestErrorCode.PERSISTED_QUERY_NOT_FOUND)
        return str(text), None

    async def register(self, digest: str, text: str, address: str | None) -> None:
        if await ratelimit.take(self.redis, REGISTER_LIMIT, address or "unknown") is not None:
            return  # over the rate: the query still runs, it is just not remembered
        await self.redis.eval(  # type: ignore[misc]  # redis-py types eval as sync-or-async
            _REGISTER,
            2,
            keys.persisted_query(digest),
            keys.PERSISTED_QUERY_INDEX,
            text,
            DOCUMENT_TTL_SECONDS,
            time.time(),
            digest,
            MAX_DOCUMENTS,
            keys.persisted_query(""),
        )


def _untrusted() -> PersistedQueryError:
    return PersistedQueryError(
        "Only the trusted documents of this deployment may run: send the document's hash.",
        RequestErrorCode.PERSISTED_QUERY_NOT_ALLOWED,
    )


async def register_pending(context: Any) -> None:
    """Registers the request's APQ document, if it brought one; called once the document parsed and
    validated (graph/extensions.py), so an invalid one is never stored."""
    pending = getattr(context, "persist", None)
    if pending is None:
        return
    context.persist = None
    try:
        digest, text = pending
        await PersistedQueries(context.redis).register(digest, text, context.client_address)
    except (RedisError, OSError):
        log.warning("cannot register a persisted query: Redis unreachable")


def untrusted_socket_error(trusted: dict[str, str] | None, query: object) -> dict[str, Any] | None:
    """The error for a socket operation that is not a trusted document, or None when it may run."""
    if trusted is None or (isinstance(query, str) and sha256_of(query) in trusted):
        return None
    return _untrusted().as_response()["errors"][0]  # type: ignore[no-any-return]
