"""Ingestion: bytes or text in, one ``Document`` out, whatever the format.

``read`` sniffs the format from the content (magic bytes), not from the name;
each format has its own module with a ``read(data: bytes) -> Document``.  The
file name is used only to word an error (a ``.doc`` named file that is OLE2).
"""

from __future__ import annotations

import io
import re
import zipfile

from service.budget import DEFAULT, Budget
from service.ingest import text as _text
from service.types import Document, ExtractionError

_HTML_START = re.compile(r"<\s*(!doctype\s+html|html[\s>]|head[\s>]|body[\s>]|table[\s>]|meta\s|"
                         r"div[\s>]|p[\s>]|title[\s>]|\?xml[^>]*>\s*<(!doctype\s+)?html)", re.I)

#: Page images read by OCR: PNG, JPEG, TIFF (both byte orders).
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")

#: Binary formats recognised only to say clearly that they are not supported.
_OTHER_MAGIC = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Office file (.doc/.wps/.xls); save it as DOCX or PDF"),
    (b"GIF8", "a GIF image; scans are read as PNG, JPEG or TIFF"),
    (b"{\\rtf", "an RTF document; save it as DOCX or PDF"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"%!PS", "a PostScript file"),
)


def sniff(data: bytes) -> str:
    """The format of some bytes: ``pdf``, ``docx``, ``image``, ``zip`` or ``text``.

    Raises ``ExtractionError("unsupported_type")`` for recognised formats that
    cannot be read (images, archives, legacy Office files).
    """
    head = data[:1024]
    if b"%PDF-" in head:
        return "pdf"
    if data.startswith(_IMAGE_MAGIC):
        return "image"
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
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        if b"word/" in data[:65536]:
            raise ExtractionError("docx_corrupt", f"the DOCX archive is damaged: {exc}") from exc
        raise ExtractionError("unsupported_type", f"a damaged ZIP archive: {exc}") from exc
    return "word/document.xml" in names or any(n.startswith("word/") and n.endswith(".xml") for n in names)


def looks_like_html(text: str) -> bool:
    """HTML markers near the start of decoded text."""
    head = text.lstrip("\ufeff \t\r\n")[:2048]
    return head.startswith("<") and bool(_HTML_START.match(head))


def read(source: bytes | str | list[bytes], filename: str | None = None, budget: Budget = DEFAULT) -> Document:
    """Turn an input into a ``Document``; raise ``ExtractionError`` if it cannot be read
    or costs more than ``budget`` allows (see ``service.budget``).  A list of byte
    strings is the page images of one report, in order."""
    from service.ingest import html as _html

    meter = budget.meter()
    if isinstance(source, list):
        return read_page_images(source, meter)
    if isinstance(source, str):
        if looks_like_html(source):
            return _html.from_str(source, meter)
        return _text.from_str(source, meter)
    if not isinstance(source, (bytes, bytearray, memoryview)):
        raise ExtractionError("bad_input", f"expected str or bytes, got {type(source).__name__}")
    data = bytes(source)
    if not data.strip():
        raise ExtractionError("empty", "the input is empty")
    kind = sniff(data)
    if kind == "pdf":
        from service.ingest import pdf as _pdf

        return _pdf.read(data, meter)
    if kind == "image":
        from service.ingest import scan as _scan

        return _scan.read_images([data], meter)
    if kind == "docx":
        from service.ingest import docx as _docx

        return _docx.read(data, meter)
    if kind == "zip":
        raise ExtractionError("unsupported_type", "a ZIP archive that is not a DOCX document")
    warnings: list[str] = []
    decoded = _text.decode(data, warnings)
    if looks_like_html(decoded):
        return _html.read(data, meter)  # again, honouring a <meta charset> declaration
    return _text.document(decoded, meter, warnings)


def read_page_images(files: list[bytes], meter) -> Document:
    """Several page images (PNG, JPEG, TIFF) read by OCR as one report, in order."""
    from service.ingest import scan as _scan

    if not files:
        raise ExtractionError("empty", "no page images were given")
    for number, data in enumerate(files, start=1):
        if not isinstance(data, (bytes, bytearray)) or sniff(bytes(data)) != "image":
            raise ExtractionError("unsupported_type", f"page {number} of the set is not a PNG, JPEG or TIFF "
                                                      f"image (a set of pages holds images only)")
    return _scan.read_images([bytes(d) for d in files], meter)


#: Largest input file read from disk, MB (the service's upload limit).
MAX_FILE_MB = 20.0


def read_file(path: str, max_mb: float = MAX_FILE_MB) -> bytes:
    """A file's bytes, refused when it is not a regular file (a device such as
    /dev/zero, a pipe, a directory) or larger than ``max_mb``; ``-`` is stdin, read
    up to the limit.  Raises ``ExtractionError`` with a one-line reason."""
    import os
    import stat
    import sys

    limit = int(max_mb * 1024 * 1024)
    if path == "-":
        data = sys.stdin.buffer.read(limit + 1)
    else:
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            raise ExtractionError("not_found", "no such file") from None
        except OSError as exc:
            raise ExtractionError("unreadable", exc.strerror or str(exc)) from None
        if stat.S_ISDIR(mode):
            raise ExtractionError("not_a_file", "is a directory")
        if not stat.S_ISREG(mode):
            raise ExtractionError("not_a_file", "is not a regular file (a device or a pipe); "
                                                "pipe a report into `govreport extract --stdin` instead")
        try:
            with open(path, "rb") as f:
                data = f.read(limit + 1)
        except OSError as exc:
            raise ExtractionError("unreadable", exc.strerror or str(exc)) from None
    if len(data) > limit:
        raise ExtractionError("too_large", f"the input is larger than {max_mb:g} MB (--max-mb)")
    return data


__all__ = ["read", "read_file", "sniff", "looks_like_html", "Document", "ExtractionError"]
