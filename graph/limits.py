"""The request body limit, enforced at the door: an HTTP body over its limit is answered 413 before it is
read whole. A declared `Content-Length` over the limit is refused without reading a byte; a body without
one (chunked) is counted while it streams and refused as soon as it passes the limit, so the process
never holds more than the limit plus one chunk of it."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graph.errors import RequestErrorCode
from models.documents import MAX_FILE_SIZE

# How much body a request may carry, by request: an upload (multipart) the largest document plus room for
# the operation and the multipart framing; every other request the general limit.
BodyLimitFor = Callable[[Scope], int]
UPLOAD_OVERHEAD = 64 * 1024


class BodyTooLarge(Exception):
    """Raised from `receive` once a streamed body passes its limit; caught by the middleware."""


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server (h11/httptools) refuses a malformed one before us
    return None


def too_large_response(limit: int, *, upload: bool = False) -> tuple[Message, Message]:
    """A GraphQL-shaped error, so clients read every refusal the same way. An upload's says what the
    payload error would have said: the file is too large."""
    if upload:
        error = {
            "message": f"A document can be at most {MAX_FILE_SIZE} bytes (10 MiB).",
            "extensions": {"code": "FILE_TOO_LARGE", "limit": MAX_FILE_SIZE},
        }
    else:
        error = {
            "message": f"The request body is larger than {limit} bytes.",
            "extensions": {"code": RequestErrorCode.PAYLOAD_TOO_LARGE.value, "limit": limit},
        }
    body = json.dumps({"errors": [error]}).encode()
    start: Message = {
        "type": "http.response.start",
        "status": 413,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            # The rest of the body is never read: the connection cannot carry another request.
            (b"connection", b"close"),
        ],
    }
    return start, {"type": "http.response.body", "body": body}


class BodySizeLimit:
    """Pure ASGI middleware (no buffering): wraps `receive` with a byte counter."""

    def __init__(self, app: ASGIApp, *, limit_for: BodyLimitFor) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        upload = is_multipart(scope)
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(send, limit, upload=upload)
            return

        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app answered despite the refusal (it swallowed the error): ours goes out
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, counting_receive, guarded_send)
        if exceeded and not started:
            await self._refuse(send, limit, upload=upload)

    @staticmethod
    async def _refuse(send: Send, limit: int, *, upload: bool) -> None:
        start, body = too_large_response(limit, upload=upload)
        await send(start)
        await send(body)


def is_multipart(scope: Scope) -> bool:
    for name, value in scope.get("headers") or ():
        if name == b"content-type":
            return bool(value.split(b";", 1)[0].strip().lower() == b"multipart/form-data")
    return False


def body_limits(max_body_bytes: int) -> BodyLimitFor:
    upload_limit = max(max_body_bytes, MAX_FILE_SIZE + UPLOAD_OVERHEAD)

    def limit_for(scope: Scope) -> int:
        return upload_limit if is_multipart(scope) else max_body_bytes

    return limit_for
