"""What a file is, read from its bytes: never from its name or the type a client declared.

PDF (`%PDF-`), DOC (an OLE2 compound file holding a `WordDocument` stream), DOCX (a zip holding
`word/document.xml`), TXT (UTF-8, BOM-marked UTF-16, or a legacy single-byte encoding found by
detection). Anything else, including an executable renamed `.pdf` or a plain zip renamed `.docx`, is
None. Only the start of a text file is read to decide; zip and OLE2 files are opened by their own
readers (directory only), which read what they need."""

from __future__ import annotations

import codecs
import zipfile
from enum import StrEnum
from typing import IO

import olefile
import puremagic
from charset_normalizer import from_bytes

TEXT_SAMPLE = 64 * 1024
PDF_MAGIC = b"%PDF-"
OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")
ZIP_MAGIC = b"PK\x03\x04"
# Control characters that never occur in a text file a person wrote (tab, newlines, form feed do).
_CONTROL = frozenset(range(32)) - {9, 10, 12, 13}


class DocumentType(StrEnum):
    PDF = "application/pdf"
    DOC = "application/msword"
    DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    TXT = "text/plain"

    @property
    def extension(self) -> str:
        return {"PDF": "pdf", "DOC": "doc", "DOCX": "docx", "TXT": "txt"}[self.name]


def sniff(source: IO[bytes]) -> DocumentType | None:
    """The file's type, or None when it is none of the supported ones. Leaves the file at its start."""
    try:
        source.seek(0)
        head = source.read(TEXT_SAMPLE)
        source.seek(0)
        if head.startswith(PDF_MAGIC):
            return DocumentType.PDF
        if head.startswith(OLE_MAGIC):
            return DocumentType.DOC if _is_word_binary(source) else None
        if head.startswith(ZIP_MAGIC):
            return DocumentType.DOCX if _is_word_zip(source) else None
        if not head or _has_known_signature(head):
            return None
        return DocumentType.TXT if is_text(head) else None
    finally:
        source.seek(0)


def _is_word_binary(source: IO[bytes]) -> bool:
    try:
        with olefile.OleFileIO(source) as ole:
            return bool(ole.exists("WordDocument"))
    except (OSError, ValueError, IndexError, TypeError):
        return False
    finally:
        source.seek(0)


def _is_word_zip(source: IO[bytes]) -> bool:
    try:
        with zipfile.ZipFile(source) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    finally:
        source.seek(0)
    return "word/document.xml" in names and "[Content_Types].xml" in names


def _has_known_signature(head: bytes) -> bool:
    """A binary format puremagic knows by its magic number (executables, images, archives...)."""
    try:
        matches = puremagic.magic_string(head[:8192])
    except (puremagic.PureError, ValueError):
        return False
    # Weak matches of a few bytes ("text that starts with a word") are not a binary signature.
    return any(len(match.byte_match) >= 4 and match.offset == 0 for match in matches)


def is_text(sample: bytes) -> bool:
    """Whether a file's first bytes read as text a person wrote."""
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    if b"\x00" in sample:
        return False
    decoded = _utf8_prefix(sample)
    if decoded is None:
        best = from_bytes(sample).best()
        if best is None:
            return False
        decoded = str(best)
    controls = sum(1 for char in decoded if ord(char) in _CONTROL)
    return controls <= max(1, len(decoded) // 1000)


def _utf8_prefix(sample: bytes) -> str | None:
    """The sample as UTF-8, allowing a character cut at the sample's end; None when it is not UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")("strict")
    try:
        return decoder.decode(sample, final=False)
    except UnicodeDecodeError:
        return None


def decode_text(data: bytes) -> tuple[str, str]:
    """A text file's content and the encoding it was read with: BOM-marked UTF-16 and UTF-8 exactly,
    anything else by detection (charset-normalizer), Latin-1 as the last resort (it maps every byte)."""
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        return data.decode("utf-16", errors="replace"), "utf-16"
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="replace"), "utf-8"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    encoding = detect_encoding(data[: 1024 * 1024])
    try:
        return data.decode(encoding, errors="replace"), encoding
    except LookupError:
        return data.decode("latin-1"), "latin-1"


# Among encodings that read a file equally well, the ones Western business files are written in first:
# a detector cannot tell cp1250 from cp1252 on French text that uses no letter where they differ.
PREFERRED = ("cp1252", "latin_1", "iso8859_15", "mac_roman")


def detect_encoding(data: bytes) -> str:
    matches = list(from_bytes(data))
    if not matches:
        return "latin-1"
    best = matches[0]
    tied = [match.encoding for match in matches if (match.chaos, match.coherence) == (best.chaos, best.coherence)]
    return next((encoding for encoding in PREFERRED if encoding in tied), best.encoding)
