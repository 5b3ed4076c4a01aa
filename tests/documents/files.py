"""Real files the document tests make: PDFs by reportlab (and pypdf for the hostile ones), DOCX by
python-docx, a legacy Word binary as an OLE2 compound file built here byte by byte, text files in
several encodings."""

from __future__ import annotations

import io
import struct
import zipfile
from datetime import datetime

import docx
from pypdf import PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

INVOICE_TEXT = (
    "Invoice 2041 from Acme Plumbing Pty Ltd, issued 3 February 2026. "
    "Kitchen sink repair and replacement of the hot water system. "
    "Total due: $1,250.00. Please pay by 2026-03-01. "
    "Questions: accounts@acme-plumbing.example or +61 2 9999 0000."
)


def pdf(pages: list[str], *, author: str = "Acme Accounts", title: str = "Invoice") -> bytes:
    buffer = io.BytesIO()
    sheet = canvas.Canvas(buffer, pagesize=A4)
    sheet.setAuthor(author)
    sheet.setTitle(title)
    for text in pages:
        y = 800
        for line in _wrap(text, 80):
            sheet.drawString(50, y, line)
            y -= 16
        sheet.showPage()
    sheet.save()
    return buffer.getvalue()


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        if len(current) + len(word) + 1 > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    return [*lines, current] if current else lines


def docx_file(paragraphs: list[str], table: list[list[str]] | None = None, *, author: str = "Hélène Dupré") -> bytes:
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    document.core_properties.author = author
    document.core_properties.created = datetime(2026, 1, 15, 9, 30)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# --- a legacy Word 97-2003 binary: an OLE2 compound file with a WordDocument and a 1Table stream --------
_SECTOR = 512
_FREE, _END, _FAT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD


def _entry(name: str, kind: int, start: int, size: int, *, child: int = _FREE, right: int = _FREE) -> bytes:
    encoded = (name + "\0").encode("utf-16-le")
    return (
        encoded.ljust(64, b"\0")
        + struct.pack("<HBB", len(encoded), kind, 1)
        + struct.pack("<III", _FREE, right, child)
        + b"\0" * 16
        + b"\0" * 4
        + b"\0" * 16
        + struct.pack("<IQ", start, size)
    )


def doc_file(text: str) -> bytes:
    """A Word binary whose main text is `text` (cp1252, one piece): what [MS-DOC] readers need."""
    body = text.replace("\n", "\r").encode("cp1252")
    text_at = 0x800
    word = bytearray(max(4096, text_at + len(body) + 512))
    struct.pack_into("<HH", word, 0, 0xA5EC, 0x00C1)
    struct.pack_into("<H", word, 0x0A, 0x0200)  # fWhichTblStm: the piece table is in 1Table
    struct.pack_into("<i", word, 0x4C, len(body))  # ccpText
    word[text_at : text_at + len(body)] = body
    pcd = struct.pack("<HIH", 0, (text_at * 2) | 0x40000000, 0)
    plc = struct.pack("<ii", 0, len(body)) + pcd
    clx = b"\x02" + struct.pack("<I", len(plc)) + plc
    struct.pack_into("<II", word, 0x1A2, 0, len(clx))  # fcClx, lcbClx
    table = clx.ljust(4096, b"\0")

    word_sectors = -(-len(word) // _SECTOR)
    table_sectors = -(-len(table) // _SECTOR)
    # sector 0: FAT, sector 1: directory, then WordDocument, then 1Table
    word_start, table_start = 2, 2 + word_sectors
    total = table_start + table_sectors
    fat = [_FAT, _END]
    fat += [word_start + n + 1 for n in range(word_sectors - 1)] + [_END]
    fat += [table_start + n + 1 for n in range(table_sectors - 1)] + [_END]
    assert len(fat) == total <= _SECTOR // 4
    fat_sector = struct.pack(f"<{_SECTOR // 4}I", *(fat + [_FREE] * (_SECTOR // 4 - len(fat))))
    directory = (
        _entry("Root Entry", 5, _END, 0, child=1)
        + _entry("WordDocument", 2, word_start, len(word), right=2)
        + _entry("1Table", 2, table_start, len(table))
        + b"\0" * 64
        + struct.pack("<HBB", 0, 0, 0)
        + struct.pack("<III", _FREE, _FREE, _FREE)
        + b"\0" * 48
    )
    header = (
        bytes.fromhex("d0cf11e0a1b11ae1")
        + b"\0" * 16
        + struct.pack("<HHHHH", 0x003E, 0x0003, 0xFFFE, 9, 6)
        + b"\0" * 6
        + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, _END, 0, _END, 0)
        + struct.pack("<109I", 0, *([_FREE] * 108))
    )
    assert len(header) == _SECTOR and len(directory) == _SECTOR
    return header + fat_sector + directory + bytes(word).ljust(word_sectors * _SECTOR, b"\0") + table


# --- hostile files -----------------------------------------------------------------------------------


def corrupt_pdf() -> bytes:
    return b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\nendobj\n" + bytes(range(256)) * 20


def encrypted_pdf() -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(pdf(["Confidential salary figures."])))
    writer.encrypt(user_password="s3cret", owner_password="owner", algorithm="AES-256")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def many_pages_pdf(pages: int) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=200, height=200)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def zip_bomb_docx(unpacked_bytes: int) -> bytes:
    """A real DOCX plus one part of `unpacked_bytes` spaces: a few hundred KiB on the wire."""
    source = zipfile.ZipFile(io.BytesIO(docx_file(["Harmless looking letter."])))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bomb:
        for item in source.infolist():
            bomb.writestr(item, source.read(item))
        with bomb.open("word/media/padding.xml", "w", force_zip64=True) as part:
            chunk = b" " * (1 << 20)
            for _ in range(unpacked_bytes // len(chunk)):
                part.write(chunk)
    return buffer.getvalue()


def many_parts_docx(parts: int) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(docx_file(["A letter with many parts."])))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in source.infolist():
            archive.writestr(item, source.read(item))
        for index in range(parts):
            archive.writestr(f"customXml/extra{index}.xml", "<a/>")
    return buffer.getvalue()


def plain_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "not a word document")
    return buffer.getvalue()


def elf_executable() -> bytes:
    return b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + struct.pack("<HHI", 2, 0x3E, 1) + b"\x00" * 200
