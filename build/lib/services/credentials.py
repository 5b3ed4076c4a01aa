"""Credentials bound to an origin. An agent's key is registered for the origin (scheme, host, port) of its
endpoint; the header is attached only to requests to that origin, whatever URL a caller passes (a health
check URL elsewhere) or a peer's answer leads to. The rule lives in the HTTP client, so no code path
can forget it."""

from __future__ import annotations

from collections.abc import Generator
from urllib.parse import urlsplit

import httpx2

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str:
    """`scheme://host:port`, lower-cased, the default port spelled out (so `https://A.example` and
    `https://a.example:443/x` are one origin). Raises ValueError for a URL without a valid host or port."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if not scheme or not host:
        raise ValueError("a URL with a scheme and a host is needed")
    port = parts.port or DEFAULT_PORTS.get(scheme)
    if port is None:
        raise ValueError("no port for this scheme")
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"


def same_origin(url: str, origin: str) -> bool:
    try:
        return origin_of(url) == origin
    except ValueError:
        return False


class OriginBoundHeaders(httpx2.Auth):
    """Adds the credential headers to requests to `origin`, and to no other."""

    def __init__(self, origin: str, headers: dict[str, str]) -> None:
        self.origin = origin
        self.headers = dict(headers)

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        if self.headers and same_origin(str(request.url), self.origin):
            request.headers.update(self.headers)
        yield request
