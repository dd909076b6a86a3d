"""The same report in the shapes text takes on its way to us when its layout is lost.

- ``flat``: every line break removed (a crawler's ``get_text()``, a report pasted into a
  form or a spreadsheet cell): headings start mid-line, a table is one run of text.
- ``glued``: every space, tab and line break removed as well: table cells glued into
  digit strings (``规章000``), the shape of the pingtan crawl in ``../shared/real``.

Only characters are deleted, so the gold moves with ``apply_edits``; the tables' values
do not change.  Headings lose the spaces they held in the glued shape.
"""

from __future__ import annotations

import re

from training.augment import apply_edits
from training.corpus import AnnotatedReport

SHAPES = {
    "flat": re.compile(r"\r?\n"),
    "glued": re.compile(r"\s+"),
}


def render(report: AnnotatedReport, shape: str) -> AnnotatedReport:
    """``report`` with what ``shape`` removes removed, gold offsets moved."""
    pattern = SHAPES[shape]
    edits = [(m.start(), m.end(), "") for m in pattern.finditer(report.text)]
    variant = apply_edits(report, edits, suffix=shape, origin="augmented", tags=[f"shape:{shape}"])
    for section in variant.gold.get("sections", []):
        section["heading"] = pattern.sub("", section["heading"])
    return variant


def variants(report: AnnotatedReport) -> list[AnnotatedReport]:
    """Every shape of ``report`` (none for a report without text)."""
    if not report.text.strip():
        return []
    return [render(report, shape) for shape in SHAPES]
