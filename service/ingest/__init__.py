"""Ingestion: bytes or text in, one ``Document`` out, whatever the format.

``read`` sniffs the format from the content (magic bytes), not from the name;
each format has its own module with a ``read(data: bytes) -> Document``.
"""

from __future__ import annotations

from service.ingest import text as _text
from service.types import Document, ExtractionError


def read(source: bytes | str, filename: str | None = None) -> Document:
    """Turn an input into a ``Document``; raise ``ExtractionError`` if it cannot be read."""
    if isinstance(source, str):
        return _text.from_str(source)
    if not isinstance(source, (bytes, bytearray)):
        raise ExtractionError("bad_input", f"expected str or bytes, got {type(source).__name__}")
    return _text.read(bytes(source))


__all__ = ["read", "Document", "ExtractionError"]
