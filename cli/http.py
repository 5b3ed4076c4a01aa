"""uvicorn's protocols: httptools with the limits it lacks, and a leaner WebSocket protocol (at the end).

The httptools protocol: a live review held 20,000 connections open from one address with half-sent
headers (the process ran out of file handles; /healthz timed out) and grew memory by 600 MB with five
unfinished 100 MB headers. Here: headers at most 64 KiB, complete within `GATEWAY_HTTP_HEADER_TIMEOUT`
(10 s) of a request starting or the connection opening, and at most `GATEWAY_MAX_CONNECTIONS_PER_ADDRESS`
(256) open connections per peer address (trusted proxies excepted: every client arrives through them)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import TYPE_CHECKING, Any, ClassVar, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from services.addresses import TrustedProxies
from services.mailbox import Flag, Mailbox

if TYPE_CHECKING:
    from uvicorn._types import ASGIReceiveEvent, ASGISendEvent

MAX_HEADER_BYTES = 64 * 1024


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    open_per_address: ClassVar[Counter[str]] = Counter()
    trusted: ClassVar[TrustedProxies] = TrustedProxies()
    header_timeout: ClassVar[float] = 10.0  # GATEWAY_HTTP_HEADER_TIMEOUT
    max_per_address: ClassVar[int] = 256  # GATEWAY_MAX_CONNECTIONS_PER_ADDRESS

    @classmethod
    def configure(cls, trusted: TrustedProxies, header_timeout: float, max_per_address: int) -> None:
        cls.trusted, cls.header_timeout, cls.max_per_address = trusted, header_timeout, max_per_address

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_bytes = 0
        self._header_deadline: asyncio.TimerHandle | None = None
        self._address: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        address = self.client[0] if self.client else None
        if address is not None and address not in self.trusted:
            if self.open_per_address[address] >= self.max_per_address:
                transport.close()  # no request read, no answer: the peer opened too many
                return
            self._address = address
            self.open_per_address[address] += 1
        self._start_header_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_clock()
        if self._address is not None:
            self.open_per_address[self._address] -= 1
            if self.open_per_address[self._address] <= 0:
                del self.open_per_address[self._address]
            self._address = None
        super().connection_lost(exc)

    def _start_header_clock(self) -> None:
        self._stop_header_clock()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _stop_header_clock(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        if self._header_deadline is None:
            self._start_header_clock()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value))
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._stop_header_clock()
        super().on_headers_complete()

    def _count(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > MAX_HEADER_BYTES and not self.transport.is_closing():
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
            self.transport.close()


# What an accepted socket's scope still needs: the client's address behind a trusted proxy
# (`Context.client_address`) and the request id of its log lines.
KEPT_SOCKET_HEADERS = frozenset({b"x-forwarded-for", b"x-request-id"})
# Scope keys nothing reads once a socket is accepted (the protocol version, the subprotocols offered, the
# extensions uvicorn answers a refused handshake with).
HANDSHAKE_ONLY_SCOPE_KEYS = frozenset({"asgi", "extensions", "http_version", "raw_path", "subprotocols"})


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's default WebSocket protocol (websockets' sans-I/O), holding less for an open socket: its
    messages to the app wait in a `Mailbox` (not an `asyncio.Queue`: three deques, ~2.3 KiB), "writable"
    is a `Flag` (not an `asyncio.Event`: a deque), and the handshake's request and response (their parsed
    headers, ~4 KiB; the app keeps its own copy in the ASGI scope, trimmed to `KEPT_SOCKET_HEADERS`) are
    let go once the socket is accepted (issue 14 memory, docs/decisions.md)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = cast("asyncio.Queue[ASGIReceiveEvent]", Mailbox())
        self.writable = cast(asyncio.Event, Flag())
        self.writable.set()

    async def send(self, message: ASGISendEvent) -> None:
        accepting = not self.handshake_complete
        await super().send(message)
        if accepting and self.handshake_complete and hasattr(self, "response"):
            # websockets' parser keeps the request for the socket's life (a local of its generator):
            # its headers are emptied, not only dropped here.
            self.request.headers.clear()
            del self.request, self.response
            # The scope's copy (a list of byte pairs, ~1 KiB from a browser) is read at the handshake;
            # an accepted socket keeps only what is read later. In place: Starlette's `Headers` of
            # the socket, if already made, share the list.
            headers = cast("list[tuple[bytes, bytes]]", self.scope["headers"])
            headers[:] = [(name, value) for name, value in headers if name in KEPT_SOCKET_HEADERS]
            # The scope itself, rebuilt in place (everything holds this one dict) without what only the
            # handshake reads: a smaller table, and the nested dicts and lists let go.
            scope = cast("dict[str, Any]", self.scope)
            kept = {key: value for key, value in scope.items() if key not in HANDSHAKE_ONLY_SCOPE_KEYS}
            scope.clear()
            scope.update(kept)
