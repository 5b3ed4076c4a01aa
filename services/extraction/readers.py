"""Text and file metadata from each supported type, by the library made for it (pypdf, python-docx),
and for legacy Word binaries by olefile plus the piece table that locates the text ([MS-DOC] 2.4.1).

Hostile files stop with `Unprocessable` and a reason a person can read: an encrypted or corrupt PDF,
a PDF over `MAX_PAGES`, a DOCX whose archive holds too many entries or unpacks too large (a zip bomb).
Text is capped at `MAX_TEXT_CHARS` and stripped of NUL characters."""

from __future__ import annotations

import re
import struct
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import docx
import olefile
from pypdf import PdfReader
from pypdf.errors import PdfReadError, PyPdfError

from services.extraction.sniff import DocumentType, decode_text

MAX_PAGES = 1000
MAX_TEXT_CHARS = 1_000_000
MAX_ZIP_ENTRIES = 1000
MAX_ZIP_UNPACKED = 100 * 1024 * 1024
MAX_ZIP_RATIO = 200  # a text part compresses well, but not a thousand-fold


class Unprocessable(Exception):
    """The file cannot be processed; the message says why, for the document's `processingError`."""


@dataclass
class RawContent:
    text: str
    page_count: int | None = None
    author: str | None = None
    created: str | None = None
    modified: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def read(path: Path, kind: DocumentType) -> RawContent:
    readers = {
        DocumentType.PDF: read_pdf,
        DocumentType.DOCX: read_docx,
        DocumentType.DOC: read_doc,
        DocumentType.TXT: read_txt,
    }
    content = readers[kind](path)
    content.text = clean_text(content.text)
    return content


_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """Storable text: no NUL or other control characters (form feed kept as a page break), no unpaired
    surrogates, at most MAX_TEXT_CHARS."""
    text = _CONTROLS.sub(lambda m: "" if m.group() == "\x00" else " ", text[:MAX_TEXT_CHARS])
    return text.encode("utf-8", errors="replace").decode("utf-8").strip()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else None


def read_pdf(path: Path) -> RawContent:
    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise Unprocessable("The PDF is password-protected; upload it without a password.")
        pages = len(reader.pages)
        if pages > MAX_PAGES:
            raise Unprocessable(f"The PDF has {pages} pages; at most {MAX_PAGES} can be processed.")
        texts: list[str] = []
        size = 0
        for page in reader.pages:
            text = page.extract_text() or ""
            texts.append(text)
            size += len(text)
            if size > MAX_TEXT_CHARS:
                break
        info = reader.metadata
        return RawContent(
            text="\n\f".join(texts),
            page_count=pages,
            author=str(info.author) if info is not None and info.author else None,
            created=_iso(_safe(lambda: info.creation_date)) if info is not None else None,
            modified=_iso(_safe(lambda: info.modification_date)) if info is not None else None,
        )
    except Unprocessable:
        raise
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as error:
        raise Unprocessable(f"The PDF is damaged and cannot be read ({type(error).__name__}).") from None
    except NotImplementedError:
        raise Unprocessable("The PDF uses an encryption this server cannot read.") from None


def _safe(read_value: Any) -> Any:
    try:
        return read_value()
    except (ValueError, TypeError, KeyError):
        return None


def check_zip(path: Path) -> None:
    """Refuse an archive that would unpack too large or into too many parts, before anything unpacks."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise Unprocessable(f"The DOCX archive is damaged ({error}).") from None
    if len(entries) > MAX_ZIP_ENTRIES:
        raise Unprocessable(f"The DOCX holds {len(entries)} parts; at most {MAX_ZIP_ENTRIES} are accepted.")
    unpacked = sum(entry.file_size for entry in entries)
    if unpacked > MAX_ZIP_UNPACKED:
        raise Unprocessable(f"The DOCX would unpack to {unpacked} bytes; at most {MAX_ZIP_UNPACKED} are accepted.")
    for entry in entries:
        if entry.compress_size and entry.file_size / entry.compress_size > MAX_ZIP_RATIO and entry.file_size > 1 << 20:
            raise Unprocessable(f"The DOCX part {entry.filename[:100]!r} is compressed suspiciously well (a zip bomb).")


def read_docx(path: Path) -> RawContent:
    check_zip(path)
    try:
        document = docx.Document(str(path))
        blocks: list[str] = []
        for block in document.iter_inner_content():
            if isinstance(block, docx.table.Table):
                for row in block.rows:
                    blocks.append("\t".join(cell.text for cell in row.cells))
            else:
                blocks.append(block.text)
        properties = document.core_properties
        return RawContent(
            text="\n".join(blocks),
            author=properties.author or None,
            created=_iso(properties.created),
            modified=_iso(properties.modified),
        )
    except Unprocessable:
        raise
    except Exception as error:  # python-docx raises whatever its XML parser and zip reader raise
        raise Unprocessable(f"The DOCX cannot be read ({type(error).__name__}).") from None


def read_txt(path: Path) -> RawContent:
    text, encoding = decode_text(path.read_bytes())
    return RawContent(text=text, extra={"encoding": encoding})


# Word 97-2003 binary ([MS-DOC]): the FIB says which table stream holds the piece table (Clx) and where;
# each piece is a run of characters stored as cp1252 bytes ("compressed") or UTF-16LE.
_FIB_FLAGS, _FIB_CCP_TEXT, _FIB_FC_CLX, _FIB_LCB_CLX = 0x000A, 0x004C, 0x01A2, 0x01A6
_FIELD_CODES = re.compile("\x13[^\x13\x14\x15]*\x14?|\x15")


def read_doc(path: Path) -> RawContent:
    try:
        with olefile.OleFileIO(str(path)) as ole:
            word = ole.openstream("WordDocument").read()
            flags = struct.unpack_from("<H", word, _FIB_FLAGS)[0]
            if flags & 0x0100:
                raise Unprocessable("The DOC is password-protected; upload it without a password.")
            table_name = "1Table" if flags & 0x0200 else "0Table"
            if not ole.exists(table_name):
                raise Unprocessable("The DOC has no text table; it may be damaged.")
            table = ole.openstream(table_name).read()
            text_chars = struct.unpack_from("<i", word, _FIB_CCP_TEXT)[0]
            fc_clx, lcb_clx = struct.unpack_from("<II", word, _FIB_FC_CLX)
            text = _pieces(word, table[fc_clx : fc_clx + lcb_clx])[: max(text_chars, 0)]
            meta = ole.get_metadata()
    except Unprocessable:
        raise
    except (OSError, ValueError, struct.error, IndexError, KeyError, UnicodeDecodeError) as error:
        raise Unprocessable(f"The DOC is damaged and cannot be read ({type(error).__name__}).") from None
    text = _FIELD_CODES.sub("", text).replace("\r", "\n").replace("\x07", "\t").replace("\x0b", "\n")
    author = meta.author.decode("cp1252", errors="replace") if meta.author else None
    return RawContent(
        text=text, author=author or None, created=_iso(meta.create_time), modified=_iso(meta.last_saved_time)
    )


def _pieces(word: bytes, clx: bytes) -> str:
    at = 0
    while at < len(clx) and clx[at] == 0x01:  # Prc entries (property modifiers) come first
        at += 3 + struct.unpack_from("<H", clx, at + 1)[0]
    if at >= len(clx) or clx[at] != 0x02:
        raise ValueError("no piece table")
    size = struct.unpack_from("<I", clx, at + 1)[0]
    plc = clx[at + 5 : at + 5 + size]
    count = (len(plc) - 4) // 12
    positions = struct.unpack_from(f"<{count + 1}i", plc, 0)
    parts: list[str] = []
    total = 0
    for index in range(count):
        start, end = positions[index], positions[index + 1]
        fc = struct.unpack_from("<I", plc, 4 * (count + 1) + 8 * index + 2)[0]
        length = max(end - start, 0)
        if fc & 0x40000000:
            offset = (fc & ~0x40000000) // 2
            parts.append(word[offset : offset + length].decode("cp1252", errors="replace"))
        else:
            parts.append(word[fc : fc + 2 * length].decode("utf-16-le", errors="replace"))
        total += length
        if total > MAX_TEXT_CHARS:
            break
    return "".join(parts)
