"""Where uploaded originals live: one small interface over an object store (obstore), so N gateways and
N workers share one store. A folder under the data folder by default (`file://`), any S3-compatible
bucket with `GATEWAY_STORAGE_URL=s3://bucket/prefix` (credentials, region and endpoint from the standard
`AWS_*` variables: `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP` for a server without TLS).

Invariants: keys are made by the gateway (`documents/<user uuid>/<document uuid>`), never from a client's
filename; a put reads its source in chunks (a 10 MiB upload is never held whole in memory); a missing
object is `StoredObjectMissing`, whatever the backend."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

import obstore
from obstore.exceptions import NotFoundError
from obstore.store import LocalStore, ObjectStore, from_url

CHUNK = 256 * 1024


class StoredObjectMissing(Exception):
    """The object named by a key is not in the store."""


def document_key(user_id: uuid.UUID, document_id: uuid.UUID) -> str:
    return f"documents/{user_id}/{document_id}"


class Storage:
    def __init__(self, store: ObjectStore, description: str) -> None:
        self._store = store
        self.description = description  # for logs: never carries credentials

    @classmethod
    def from_setting(cls, url: str | None, data_dir: Path) -> Storage:
        """`None`: the `uploads` folder under the data folder; otherwise a URL obstore understands."""
        if not url:
            folder = data_dir / "uploads"
            folder.mkdir(parents=True, exist_ok=True)
            return cls(LocalStore(folder), f"folder {folder}")
        if url.startswith("file://"):
            folder = Path(url.removeprefix("file://"))
            folder.mkdir(parents=True, exist_ok=True)
            return cls(LocalStore(folder), f"folder {folder}")
        return cls(from_url(url), url.split("?", 1)[0])

    async def put_file(self, key: str, source: IO[bytes]) -> None:
        """Stream an open file (read from its start) into the store under `key`."""
        source.seek(0)
        await obstore.put_async(self._store, key, _chunks(source), use_multipart=False)

    async def put_bytes(self, key: str, data: bytes) -> None:
        await obstore.put_async(self._store, key, data)

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes in chunks. Raises StoredObjectMissing before the first chunk."""
        try:
            result = await obstore.get_async(self._store, key)
        except (NotFoundError, FileNotFoundError) as error:
            raise StoredObjectMissing(key) from error
        return _stream(result)

    async def save_to(self, key: str, target: IO[bytes]) -> int:
        """Copy the object into an open local file; its size."""
        size = 0
        async for chunk in await self.stream(key):
            target.write(chunk)
            size += len(chunk)
        target.flush()
        return size

    async def delete(self, key: str) -> None:
        """Remove the object; an absent one is no error."""
        try:
            await obstore.delete_async(self._store, key)
        except (NotFoundError, FileNotFoundError):
            return

    async def exists(self, key: str) -> bool:
        try:
            await obstore.head_async(self._store, key)
        except (NotFoundError, FileNotFoundError):
            return False
        return True


async def _chunks(source: IO[bytes]) -> AsyncIterator[bytes]:
    while chunk := source.read(CHUNK):
        yield chunk


async def _stream(result: obstore.GetResult) -> AsyncIterator[bytes]:
    async for chunk in result.stream(min_chunk_size=CHUNK):
        yield bytes(chunk)
