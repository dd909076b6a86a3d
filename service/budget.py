"""What one document may cost, counted where the cost arises.

A report is a few pages: tens of thousands of characters, a few hundred table cells,
elements nested a dozen levels.  A crafted file can be a few kilobytes and still ask
for billions of cells (``rowspan=200 colspan=200`` on every row), inflate a zip to
gigabytes, or nest tables until every level doubles the work.  So every ingester
counts what it builds as it builds it — characters, paragraphs, grid cells after
spans, nesting depth, pages, bytes unpacked so far (not the sizes a zip header
claims) — and stops with ``ExtractionError`` the moment a limit is passed:
``too_long`` (characters, paragraphs, pages), ``too_complex`` (cells, nesting),
``too_large`` (unpacked bytes).  The HTTP API answers these with 422.

Each limit has an environment variable (``GOVREPORT_MAX_CHARS`` …, see ``Budget``);
the defaults are far above any real report.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

from service.types import ExtractionError

#: Environment variable of each limit.
ENVIRONMENT = {
    "chars": "GOVREPORT_MAX_CHARS",
    "paragraphs": "GOVREPORT_MAX_PARAGRAPHS",
    "cells": "GOVREPORT_MAX_CELLS",
    "depth": "GOVREPORT_MAX_DEPTH",
    "pages": "GOVREPORT_MAX_PAGES",
    "scanned_pages": "GOVREPORT_MAX_SCANNED_PAGES",
    "unpacked_mb": "GOVREPORT_MAX_UNPACKED_MB",
}


@dataclass(frozen=True)
class Budget:
    """The limits of one document."""

    chars: int = 1_000_000       # characters of the text derived from it
    paragraphs: int = 100_000    # paragraphs (lines) written
    cells: int = 100_000         # table cells, merged cells counted at their full extent
    depth: int = 200             # elements (HTML) or tables (DOCX) nested in each other
    pages: int = 500             # PDF pages
    scanned_pages: int = 60      # pages read by OCR (about 2 s each)
    unpacked_mb: float = 64.0    # bytes a DOCX inflates to

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Budget:
        """The defaults, overridden by the environment variables that are set."""
        env = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = env.get(ENVIRONMENT[f.name])
            if raw:
                try:
                    values[f.name] = type(f.default)(float(raw)) if f.type == "int" else float(raw)
                except ValueError:
                    raise ValueError(f"{ENVIRONMENT[f.name]}={raw!r} is not a number") from None
        return cls(**values)

    @property
    def unpacked_bytes(self) -> int:
        return int(self.unpacked_mb * 1024 * 1024)

    def meter(self) -> Meter:
        return Meter(self)


#: The limits used when a caller gives none.
DEFAULT = Budget()

_CODES = {"chars": "too_long", "paragraphs": "too_long", "pages": "too_long", "scanned_pages": "too_long",
          "cells": "too_complex", "depth": "too_complex", "unpacked_mb": "too_large"}
_WHAT = {"chars": "characters", "paragraphs": "paragraphs", "pages": "pages",
         "scanned_pages": "scanned pages (read by OCR)", "cells": "table cells",
         "depth": "levels of nesting", "unpacked_mb": "bytes unpacked"}


class Meter:
    """What one document has cost so far; raises as soon as a limit is passed."""

    def __init__(self, budget: Budget):
        self.budget = budget
        self.chars = self.paragraphs = self.cells = self.pages = self.scanned = self.unpacked = 0

    def _over(self, kind: str, count: int, limit: int) -> ExtractionError:
        return ExtractionError(_CODES[kind], f"the document has more than {limit} {_WHAT[kind]} "
                                             f"({count} so far); the limit is set by {ENVIRONMENT[kind]}")

    def _add(self, kind: str, counter: str, n: int, limit: float) -> None:
        count = getattr(self, counter) + n
        setattr(self, counter, count)
        if count > limit:
            raise self._over(kind, count, int(limit))

    def add_chars(self, n: int) -> None:
        self._add("chars", "chars", n, self.budget.chars)

    def add_paragraphs(self, n: int = 1) -> None:
        self._add("paragraphs", "paragraphs", n, self.budget.paragraphs)

    def add_cells(self, n: int) -> None:
        self._add("cells", "cells", n, self.budget.cells)

    def add_page(self) -> None:
        self._add("pages", "pages", 1, self.budget.pages)

    def add_scanned_page(self) -> None:
        self._add("scanned_pages", "scanned", 1, self.budget.scanned_pages)

    def add_unpacked(self, n: int) -> None:
        self._add("unpacked_mb", "unpacked", n, self.budget.unpacked_bytes)

    def check_depth(self, depth: int) -> None:
        if depth > self.budget.depth:
            raise self._over("depth", depth, self.budget.depth)
