"""Which PDF page a span of the derived text came from (for the review page).

The derived text carries no page marks, so each page is found in it by its first
prose line: the line's characters without whitespace are looked for in the text's
characters without whitespace, after the previous page's.  Lines in the top and
bottom margins (running headers, page numbers — the ingester drops those) are
skipped, as are lines too short to be told apart.  A page whose lines are not found
(a page of one table's continuation whose cells read differently) has no start of its
own: its spans are said to be on the page before.  This is a guide for a person
looking at a span, never used for extraction.
"""

from __future__ import annotations

import io
from bisect import bisect_right

#: Top/bottom share of a page where running headers and page numbers sit (as the ingester).
MARGIN_ZONE = 0.12
#: A line shorter than this (without whitespace) is too likely to occur earlier in the text.
MIN_ANCHOR = 6


def _compact(text: str) -> tuple[str, list[int]]:
    """``text`` without whitespace, and each kept character's offset in ``text``."""
    offsets = [i for i, ch in enumerate(text) if not ch.isspace()]
    return "".join(text[i] for i in offsets), offsets


def page_starts(data: bytes, text: str, max_pages: int) -> list[int]:
    """The offset in ``text`` where each page starts, page 1 first (0); a page not
    found repeats the start of the one before.  Empty for a PDF over ``max_pages``."""
    import pdfplumber

    compact, offsets = _compact(text)
    starts: list[int] = []
    cursor = 0
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        if len(pdf.pages) > max_pages:
            return []
        for number, page in enumerate(pdf.pages):
            if number == 0:
                starts.append(0)
                continue
            found = _first_line_at(page, compact, cursor)
            if found is None:
                starts.append(starts[-1])
                continue
            cursor = found
            starts.append(offsets[found])
    return starts


def _first_line_at(page, compact: str, cursor: int) -> int | None:
    """Where the page's first findable body line starts in ``compact`` (from ``cursor``)."""
    height = float(page.height)
    for line in page.extract_text_lines(return_chars=False):
        top = float(line["top"])
        if top < MARGIN_ZONE * height or top > (1 - MARGIN_ZONE) * height:
            continue
        anchor = "".join(line["text"].split())
        if len(anchor) < MIN_ANCHOR:
            continue
        at = compact.find(anchor, cursor)
        if at >= 0:
            return at
    return None


def page_of(starts: list[int], offset: int) -> int | None:
    """The page number (from 1) of a text offset, or None without page starts."""
    return bisect_right(starts, offset) if starts else None
