"""GraphiQL served by the gateway itself: the page and the vendored assets (graph/ide_assets/, refreshed by
`scripts/vendor-graphiql` from the official npm releases, checksums in VENDORED.json), under a
Content-Security-Policy that allows no origin but the gateway's own: it works offline and behind a firewall."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

ASSETS = Path(__file__).with_name("ide_assets")
ASSET_PATH = "/graphiql"
# Our own files beside the vendored ones: the page's start-up script and its style.
OWN_ASSETS = ("start.js", "page.css")
# GraphiQL sets style attributes at run time (editor sizes), hence 'unsafe-inline' for styles only;
# scripts come from the gateway alone, and the page talks to the gateway alone ('self' covers ws: too).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
SCRIPTS = ("react.production.min.js", "react-dom.production.min.js", "graphql-ws.min.js", "graphiql.min.js", "start.js")
STYLES = ("graphiql.min.css", "page.css")


@cache
def vendored() -> dict[str, dict[str, str]]:
    """The vendored files with their npm package, version and sha256."""
    manifest: dict[str, dict[str, str]] = json.loads((ASSETS / "VENDORED.json").read_text())
    return manifest


@cache
def asset(name: str) -> tuple[bytes, str] | None:
    """An asset's bytes and a short digest of them (for cache busting), or None for an unknown name."""
    if name not in vendored() and name not in OWN_ASSETS:
        return None
    content = (ASSETS / name).read_bytes()
    return content, hashlib.sha256(content).hexdigest()[:16]


def _url(name: str) -> str:
    found = asset(name)
    assert found is not None, name
    return f"{ASSET_PATH}/{name}?v={found[1]}"


@cache
def page_html() -> str:
    styles = "".join(f'<link rel="stylesheet" href="{_url(name)}">' for name in STYLES)
    scripts = "".join(f'<script src="{_url(name)}"></script>' for name in SCRIPTS)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Assistant Gateway · GraphiQL</title>{styles}</head>"
        f'<body><div id="graphiql">Loading GraphiQL…</div>{scripts}</body></html>'
    )


def page() -> Response:
    return HTMLResponse(
        page_html(),
        headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Content-Type-Options": "nosniff"},
    )


async def _asset(request: Request) -> Response:
    name = request.path_params["name"]
    found = asset(name)
    if found is None:
        return PlainTextResponse("Not found", status_code=404)
    content, _ = found
    return Response(
        content,
        media_type=MEDIA_TYPES[Path(name).suffix],
        headers={
            # The page names each asset with its digest, so a new release is a new URL.
            "Cache-Control": "public, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
        },
    )


def asset_routes() -> list[Route]:
    return [Route(ASSET_PATH + "/{name}", _asset)]
