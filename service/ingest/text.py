"""Plain text: UTF-8 (with or without BOM) or GB18030/GBK, detected, not assumed."""

from __future__ import annotations

import re

from service.budget import DEFAULT, Meter
from service.ingest.render import drop_nuls, nul_warning, radical_warning, radicals_as_characters
from service.types import Document, ExtractionError

_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))

#: Control characters a text report may legitimately hold.
_ALLOWED_CONTROLS = set("\t\n\r\f\v")


#: Control characters (C0 and C1) other than the allowed ones.
_CONTROL = re.compile("[^" + re.escape("".join(sorted(_ALLOWED_CONTROLS))) + "\x20-\x7e\xa0-\U0010ffff]")


def _looks_binary(text: str) -> bool:
    """Many control characters: decoded bytes that were never text."""
    sample = text[:20000]
    if not sample:
        return False
    controls = len(_CONTROL.findall(sample))  # (a loop over the characters cost ~0.3 ms a report)
    return controls > max(2, len(sample) // 100)


def _mostly_utf8(data: bytes) -> str | None:
    """A UTF-8 text with a few broken bytes (a cut-off last character, a stray byte).

    GB18030 accepts almost any byte pair, so such a file would otherwise decode
    "successfully" as GB18030 mojibake.  Returns the text with the bad bytes
    replaced when they are rare, else None.
    """
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    multibyte = len(text) - len(text.encode("ascii", "ignore")) - bad  # characters beyond ASCII
    if multibyte >= 20 and bad * 20 <= multibyte:
        return text
    return None


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text saved without its byte-order mark, told by where its NUL bytes are:
    every ASCII character (digits, spaces, line breaks) has a NUL high byte, on the
    same side of every pair; binary data has them anywhere.  None when it is not."""
    head = data[:4096]
    head = head[:len(head) - len(head) % 2]
    pairs = len(head) // 2
    if pairs < 8:
        return None
    even, odd = head[0::2].count(0), head[1::2].count(0)
    for nuls, stray, codec in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if nuls >= pairs // 20 and nuls > 4 * stray:
            try:
                text = data[:len(data) - len(data) % 2].decode(codec)
            except UnicodeDecodeError:
                return None
            return None if _looks_binary(text) else text
    return None


def decode(data: bytes, warnings: list[str] | None = None) -> str:
    """Decode bytes of a text report; raise ``ExtractionError`` when they are not text."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom):].decode(codec)
            except UnicodeDecodeError as exc:
                raise ExtractionError("undecodable", f"{codec} text with invalid bytes: {exc}") from exc
            if _looks_binary(text):
                raise ExtractionError("binary", "the input is binary, not text")
            return text
    utf16 = _utf16_without_bom(data)
    if utf16 is not None:
        return utf16
    head = data[:4096]
    if head.count(b"\x00") > max(2, len(head) // 100):  # (a few NULs in a text are removed later)
        raise ExtractionError("binary", "the input is binary, not text")
    # UTF-8 is strict enough that a GBK file almost never decodes as UTF-8 by
    # accident, so try it first; GB18030 is a superset of GBK and GB2312.
    text: str | None = None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = _mostly_utf8(data)
        if text is not None and warnings is not None:
            warnings.append("the UTF-8 input holds invalid bytes; they were replaced by U+FFFD")
        if text is None:
            try:
                text = data.decode("gb18030")
            except UnicodeDecodeError:
                text = None
    if text is None:
        if b"\x00" in head:
            raise ExtractionError("binary", "the input is binary, not text")
        raise ExtractionError("undecodable", "the input is neither UTF-8 nor GB18030/GBK text")
    if _looks_binary(text):
        raise ExtractionError("binary", "the input is binary, not text")
    return text


def document(text: str, meter: Meter, warnings: list[str] | None = None) -> Document:
    """A text report's ``Document``: NUL characters removed (with a warning: a figure
    they split is whole again), the length checked against the budget."""
    warnings = list(warnings or [])
    text, nuls = drop_nuls(text)
    if nuls:
        warnings.append(nul_warning(nuls))
    text, radicals = radicals_as_characters(text)
    if radicals:
        warnings.append(radical_warning(radicals))
    meter.add_chars(len(text))
    return Document(text=text, format="txt", warnings=warnings)


def from_str(text: str, meter: Meter | None = None) -> Document:
    return document(text.removeprefix("\ufeff"), meter or DEFAULT.meter())


def read(data: bytes, meter: Meter | None = None) -> Document:
    warnings: list[str] = []
    text = decode(data, warnings)
    return document(text, meter or DEFAULT.meter(), warnings)
