"""After extraction, for a report read by OCR: where each figure stands on its page,
how sure the reading is, and misread digits repaired by the 勾稽关系.

``review(extraction, doc)`` — a stage after checks, run only when the document has
OCR glyphs (``Document.glyphs``):

- every table value and prose metric gets a ``Location`` (page, box, confidence of
  its least sure character);
- a figure with a character read below ``LOW_CONFIDENCE`` is flagged
  ``low_confidence``, with the values its runner-up digits would give;
- when the table's identities fail, each single change of one low-confidence digit
  to its runner-up is tried; if exactly one change makes every table identity hold,
  it is taken and the cell flagged ``ocr_repaired`` with the printed reading;
  otherwise the failures stand and each failed check names its least sure figure;
- on a scan, a cell of the template that was not read at all is flagged ``unreadable``.
"""

from __future__ import annotations

from service import checks
from service.numbers import parse_number
from service.template import TABLE_KEYS, table_schema
from service.types import CellFlag, Document, Extraction, Glyph, Location

#: A character read with less confidence than this makes its figure ``low_confidence``.
LOW_CONFIDENCE = 0.8
#: A runner-up digit is tried as a repair only when the recogniser gave it at least this.
MIN_ALTERNATIVE = 0.001


def _location(glyphs: dict[int, Glyph], start: int, end: int) -> Location | None:
    found = [glyphs[i] for i in range(start, end) if i in glyphs]
    if not found:
        return None
    page = found[0].page
    boxes = [g.bbox for g in found if g.page == page]
    sure = [g.confidence for g in found if g.confidence is not None]
    return Location(page=page, bbox=(min(b[0] for b in boxes), min(b[1] for b in boxes),
                                     max(b[2] for b in boxes), max(b[3] for b in boxes)),
                    confidence=round(min(sure), 4) if sure else None)


def _alternatives(text: str, start: int, glyphs: dict[int, Glyph]) -> list[int | float]:
    """The values the figure would have with one unsure digit read as its runner-up."""
    out: list[int | float] = []
    for i, ch in enumerate(text):
        glyph = glyphs.get(start + i)
        if (glyph is None or not ch.isdigit() or not glyph.alternative.isdigit() or glyph.alternative == ch
                or glyph.confidence is None or glyph.confidence >= LOW_CONFIDENCE
                or glyph.alternative_confidence < MIN_ALTERNATIVE):
            continue
        changed = text[:i] + glyph.alternative + text[i + 1:]
        value = parse_number(changed)
        if value is not None and value not in out:
            out.append(value)
    return out


def _set(extraction: Extraction, key: str, value: int | float) -> None:
    table, row, col = key.split(".")
    extraction.tables[table][row][col] = value


def _table_failures(extraction: Extraction, text: str) -> set[tuple[str, str]]:
    return {(c.rule, c.scope) for c in checks.run_checks(extraction, text)
            if c.ok is False and not c.rule.startswith("narrative.")}


def review(extraction: Extraction, doc: Document) -> Extraction:
    glyphs = doc.glyphs
    if not glyphs:
        return extraction
    text = doc.text
    unsure: dict[str, tuple[str, list[int | float], float]] = {}
    for key, (start, end) in extraction.provenance.items():
        location = _location(glyphs, start, end)
        if location is None:
            continue
        extraction.locations[key] = location
        if location.confidence is not None and location.confidence < LOW_CONFIDENCE:
            unsure[key] = (text[start:end], _alternatives(text[start:end], start, glyphs), location.confidence)
    for metric in extraction.metrics:
        metric.location = _location(glyphs, metric.start, metric.end)
    repaired = _repair(extraction, text, unsure)
    for key, (raw, candidates, confidence) in unsure.items():
        if key in repaired:
            extraction.cell_flags.append(CellFlag(cell=key, raw=raw, reason="ocr_repaired",
                                                  candidates=[repaired[key]], confidence=confidence))
        else:
            extraction.cell_flags.append(CellFlag(cell=key, raw=raw, reason="low_confidence",
                                                  candidates=candidates or None, confidence=confidence))
    if repaired:
        extraction.checks = checks.run_checks(extraction, text)
        extraction.audit = checks.summarise(extraction.checks)
    _name_suspects(extraction)
    if doc.read_by_ocr:
        _flag_unread(extraction)
    return extraction


def _flag_unread(extraction: Extraction) -> None:
    """On a scan, every cell of the template that was not read (its table, its row or
    itself missing) is flagged ``unreadable``: a person must look at the page."""
    flagged = {f.cell for f in extraction.cell_flags}
    for table in TABLE_KEYS:
        for row, columns in table_schema(table, extraction.layout).items():
            for column in columns:
                key = f"{table}.{row}.{column}"
                if extraction.tables.get(table, {}).get(row, {}).get(column) is None and key not in flagged:
                    extraction.cell_flags.append(CellFlag(cell=key, raw="", reason="unreadable"))


def _repair(extraction: Extraction, text: str,
            unsure: dict[str, tuple[str, list[int | float], float]]) -> dict[str, int | float]:
    """The one single-digit change that makes every failing table identity hold, if
    exactly one does: {cell: new value}."""
    failing = {(c.rule, c.scope) for c in extraction.checks
               if c.ok is False and not c.rule.startswith("narrative.")}
    if not failing:
        return {}
    involved = {cell for c in extraction.checks if (c.rule, c.scope) in failing for cell in c.cells}
    fixes: list[tuple[str, int | float]] = []
    for key, (_, candidates, _) in unsure.items():
        if key not in involved:
            continue
        table, row, col = key.split(".")
        printed = extraction.tables[table][row][col]
        for value in candidates:
            _set(extraction, key, value)
            if not _table_failures(extraction, text):
                fixes.append((key, value))
            _set(extraction, key, printed)
    if len(fixes) != 1:
        return {}
    key, value = fixes[0]
    _set(extraction, key, value)
    return {key: value}


def _name_suspects(extraction: Extraction) -> None:
    """Each failed table identity names its least sure OCR figure."""
    for check in extraction.checks:
        if check.ok is not False or check.rule.startswith("narrative."):
            continue
        read = [(extraction.locations[c].confidence, c) for c in check.cells
                if c in extraction.locations and extraction.locations[c].confidence is not None]
        if read:
            confidence, cell = min(read)
            check.detail += f"; least sure OCR reading: {cell} (confidence {confidence:.2f})"
