"""Plain text: UTF-8 (with or without BOM) or GB18030/GBK, detected, not assumed."""

from __future__ import annotations

from service.types import Document, ExtractionError

_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def decode(data: bytes) -> str:
    """Decode bytes of a text report; raise ``ExtractionError`` when they are not text."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(codec)
            except UnicodeDecodeError as exc:
                raise ExtractionError("undecodable", f"{codec} text with invalid bytes: {exc}") from exc
    if b"\x00" in data[:4096]:
        raise ExtractionError("binary", "the input is binary, not text")
    # UTF-8 is strict enough that a GBK file almost never decodes as UTF-8 by
    # accident, so try it first; GB18030 is a superset of GBK and GB2312.
    for codec in ("utf-8", "gb18030"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    raise ExtractionError("undecodable", "the input is neither UTF-8 nor GB18030/GBK text")


def from_str(text: str) -> Document:
    return Document(text=text.removeprefix("\ufeff"), format="txt")


def read(data: bytes) -> Document:
    return Document(text=decode(data), format="txt")
