"""Ingestion: bytes or text in, one ``Document`` out, whatever the format.

``read`` sniffs the format from the content (magic bytes), not from the name;
each format has its own module with a ``read(data: bytes) -> Document``.  The
file name is used only to word an error (a ``.doc`` named file that is OLE2).
"""

from __future__ import annotations

import io
import re
import zipfile

from service.ingest import text as _text
from service.types import Document, ExtractionError

#: A DOCX may not inflate to more than this (a zip bomb is not a report).
MAX_UNPACKED_BYTES = 300 * 1024 * 1024

_HTML_START = re.compile(r"<\s*(!doctype\s+html|html[\s>]|head[\s>]|body[\s>]|table[\s>]|meta\s|"
                         r"div[\s>]|p[\s>]|title[\s>]|\?xml[^>]*>\s*<(!doctype\s+)?html)", re.I)

#: Binary formats recognised only to say clearly that they are not supported.
_OTHER_MAGIC = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Office file (.doc/.wps/.xls); save it as DOCX or PDF"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image; OCR is not supported"),
    (b"\xff\xd8\xff", "a JPEG image; OCR is not supported"),
    (b"GIF8", "a GIF image; OCR is not supported"),
    (b"II*\x00", "a TIFF image; OCR is not supported"),
    (b"MM\x00*", "a TIFF image; OCR is not supported"),
    (b"{\\rtf", "an RTF document; save it as DOCX or PDF"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"%!PS", "a PostScript file"),
)


def sniff(data: bytes) -> str:
    """The format of some bytes: ``pdf``, ``docx``, ``html`` or ``txt``.

    Raises ``ExtractionError("unsupported_type")`` for recognised formats that
    cannot be read (images, archives, legacy Office files).
    """
    head = data[:1024]
    if b"%PDF-" in head:
        return "pdf"
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return "docx" if _is_docx(data) else "zip"
    for magic, what in _OTHER_MAGIC:
        if data.startswith(magic):
            raise ExtractionError("unsupported_type", f"the input is {what}")
    return "text"


def _is_docx(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
            unpacked = sum(info.file_size for info in z.infolist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        if b"word/" in data[:65536]:
            raise ExtractionError("docx_corrupt", f"the DOCX archive is damaged: {exc}") from exc
        raise ExtractionError("unsupported_type", f"a damaged ZIP archive: {exc}") from exc
    if "word/document.xml" not in names and not any(n.startswith("word/") and n.endswith(".xml")
                                                   for n in names):
        return False
    if unpacked > MAX_UNPACKED_BYTES:
        raise ExtractionError("docx_corrupt", f"the DOCX would unpack to {unpacked} bytes")
    return True


def looks_like_html(text: str) -> bool:
    """HTML markers near the start of decoded text."""
    head = text.lstrip("\ufeff \t\r\n")[:2048]
    return head.startswith("<") and bool(_HTML_START.match(head))


def read(source: bytes | str, filename: str | None = None) -> Document:
    """Turn an input into a ``Document``; raise ``ExtractionError`` if it cannot be read."""
    from service.ingest import html as _html

    if isinstance(source, str):
        if looks_like_html(source):
            return _html.from_str(source)
        return _text.from_str(source)
    if not isinstance(source, (bytes, bytearray, memoryview)):
        raise ExtractionError("bad_input", f"expected str or bytes, got {type(source).__name__}")
    data = bytes(source)
    if not data.strip():
        raise ExtractionError("empty", "the input is empty")
    kind = sniff(data)
    if kind == "pdf":
        from service.ingest import pdf as _pdf

        return _pdf.read(data)
    if kind == "docx":
        from service.ingest import docx as _docx

        return _docx.read(data)
    if kind == "zip":
        raise ExtractionError("unsupported_type", "a ZIP archive that is not a DOCX document")
    warnings: list[str] = []
    decoded = _text.decode(data, warnings)
    if looks_like_html(decoded):
        return _html.read(data)  # again, honouring a <meta charset> declaration
    return Document(text=decoded, format="txt", warnings=warnings)


__all__ = ["read", "sniff", "looks_like_html", "Document", "ExtractionError"]
