"""`GET /documents/<id>/download`: the original file behind a signed link (`Document.downloadUrl`).

A forged, altered or expired link is 403; a valid link to a document that is deleted (or was never
the signer's) is 404, as for one that does not exist. The answer is an attachment with the sniffed type,
`nosniff` and a sandbox CSP, so a browser never renders an uploaded file as a page of ours."""

from __future__ import annotations

import logging
import unicodedata
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from resolvers.documents import downloadable
from services.download_links import LinkRefused, verify
from services.resources import Resources
from services.storage import StoredObjectMissing

log = logging.getLogger("gateway.documents")


def content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII fallback `filename` and the exact name as RFC 5987 `filename*`."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    ascii_name = "".join(char if char.isprintable() and char not in '"\\;' else "_" for char in ascii_name)
    stem, dot, extension = ascii_name.rpartition(".")
    if not (stem if dot else ascii_name).strip():
        ascii_name = f"document.{extension}" if dot else "document"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _refused(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers={"Cache-Control": "no-store"})


def download_endpoint(resources: Resources):  # type: ignore[no-untyped-def]
    async def download(request: Request) -> Response:
        query = request.query_params
        try:
            signed = verify(
                resources.box,
                request.path_params["document_id"],
                query.get("user"),
                query.get("expires"),
                query.get("kid"),
                query.get("signature"),
            )
        except LinkRefused:
            return _refused(403, "This download link is invalid or has expired.")
        async with resources.sessionmaker() as db:
            found = await downloadable(db, signed.user_id, signed.document_id)
        if found is None:
            return _refused(404, "No such document.")
        try:
            chunks = await resources.storage.stream(found.key)
        except StoredObjectMissing:
            log.error("document %s has no stored file", signed.document_id)
            return _refused(404, "No such document.")
        return StreamingResponse(
            chunks,
            media_type=found.mime_type,
            headers={
                "Content-Disposition": content_disposition(found.filename),
                "Content-Length": str(found.size),
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "sandbox",
                "Cache-Control": "private, no-store",
                "Referrer-Policy": "no-referrer",
            },
        )

    return download
