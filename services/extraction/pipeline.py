"""One file's extraction, as the child process runs it: read (by type), then analyse. The result is
plain JSON: `contentText` and `extractedData`, or an `error` a person can read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.extraction.enrich import analyse
from services.extraction.readers import RawContent, Unprocessable, read
from services.extraction.sniff import DocumentType


def extracted_data(raw: RawContent) -> dict[str, Any]:
    data = analyse(raw.text)
    metadata = {
        "pageCount": raw.page_count,
        "language": data["metadata"].get("language"),
        "author": raw.author,
        "createdDate": raw.created,
        "modifiedDate": raw.modified,
    }
    data["metadata"] = {key: value for key, value in metadata.items() if value is not None}
    return data


def extract(path: Path, mime_type: str) -> dict[str, Any]:
    """{"text", "data"} or {"error"}."""
    try:
        raw = read(path, DocumentType(mime_type))
    except Unprocessable as refused:
        return {"error": str(refused)}
    return {"text": raw.text, "data": extracted_data(raw)}
