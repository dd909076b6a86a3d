"""Rendering structured content (paragraphs, grids of cells) into one ``Document``.

HTML, DOCX and PDF all end up here so that every format derives its text the
same way: one paragraph per line, one table row per line with cells separated by
tabs, merged cells leaving their spanned positions empty (the layout the plain
text reports of the seed corpus use).  Offsets of every cell are recorded while
the text is written, so ``doc.text[cell.start:cell.end] == cell.text`` holds by
construction.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from service.budget import DEFAULT, Meter
from service.types import Cell, Document, SourceTable

_SPACE_RUN = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000\ufeff]+")
_SPACE_RUN_NO_TAB = re.compile(r"[ \u00a0\u2000-\u200b\u3000\ufeff]+")


def is_wide(ch: str) -> bool:
    """CJK ideographs, kana, hangul and full-width punctuation: text written without spaces."""
    return unicodedata.east_asian_width(ch) in ("W", "F")


def join_wrapped(pieces: list[str]) -> str:
    """Join the visual lines of one paragraph or cell back into running text.

    Chinese text carries no space at a line break, so lines are glued directly;
    only two Latin letters meeting at the break get a space (an English word wrap).
    """
    out = ""
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        if out and out[-1].isascii() and out[-1].isalpha() and piece[0].isascii() and piece[0].isalpha():
            out += " "
        out += piece
    return out


def clean_inline(text: str) -> str:
    """One line of text: runs of spaces (incl. NBSP, ideographic space) become one space, trimmed."""
    return _SPACE_RUN.sub(" ", text).strip()


def clean_cell(text: str) -> str:
    """A cell must stay on one line of the rendered text: no tabs, no newlines."""
    return clean_inline(join_wrapped(text.replace("\r", "\n").split("\n")))


@dataclass
class Grid:
    """A table after merged cells are expanded.

    ``texts[r][c]`` is the text at a position; ``origin[(r, c)]`` is the position
    of the cell that covers it, for positions covered by a merged cell other than
    its top-left one.
    """

    texts: list[list[str]]
    origin: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)

    @classmethod
    def from_spans(cls, cells: list[tuple[int, int, int, int, str]], meter: Meter | None = None) -> Grid:
        """Build from (row, col, rowspan, colspan, text) of every origin cell; the
        grid's cells are counted against ``meter`` before they are made."""
        n_rows = max((r + rs for r, _, rs, _, _ in cells), default=0)
        n_cols = max((c + cs for _, c, _, cs, _ in cells), default=0)
        if meter is not None:
            meter.add_cells(n_rows * n_cols)
        texts = [["" for _ in range(n_cols)] for _ in range(n_rows)]
        origin: dict[tuple[int, int], tuple[int, int]] = {}
        for r, c, rs, cs, text in cells:
            if (r, c) in origin:  # overlapping spans in a broken table: first one wins
                continue
            texts[r][c] = text
            for rr in range(r, r + rs):
                for cc in range(c, c + cs):
                    if (rr, cc) != (r, c) and (rr, cc) not in origin:
                        origin[(rr, cc)] = (r, c)
        return cls(texts, origin)

    def without_empty_rows(self) -> Grid:
        """Drop rows that show nothing (no text, no part of a merged cell with text)."""
        keep = []
        for r, row in enumerate(self.texts):
            shown = any(t for t in row) or any(
                self.texts[o[0]][o[1]] for c in range(len(row)) if (o := self.origin.get((r, c))))
            if shown:
                keep.append(r)
        new_index = {old: new for new, old in enumerate(keep)}
        texts = [self.texts[r] for r in keep]
        origin = {}
        for (r, c), (orr, oc) in self.origin.items():
            if r in new_index and orr in new_index:
                origin[(new_index[r], c)] = (new_index[orr], oc)
        return Grid(texts, origin)

    def without_empty_columns(self) -> Grid:
        """Drop columns that are empty in every row and never the origin of a merged cell."""
        n_cols = max((len(r) for r in self.texts), default=0)
        origins = set(self.origin.values())
        keep = [c for c in range(n_cols)
                if any(c < len(row) and row[c] for row in self.texts)
                or any(oc == c for _, oc in origins)
                or any((r, c) in self.origin for r in range(len(self.texts)))]
        new_index = {old: new for new, old in enumerate(keep)}
        texts = [[row[c] if c < len(row) else "" for c in keep] for row in self.texts]
        origin = {(r, new_index[c]): (orr, new_index[oc]) for (r, c), (orr, oc) in self.origin.items()
                  if c in new_index and oc in new_index}
        return Grid(texts, origin)


class DocumentBuilder:
    """Accumulates paragraphs and tables in reading order and renders the ``Document``."""

    def __init__(self, fmt: str, meter: Meter | None = None):
        self.format = fmt
        self.meter = meter or DEFAULT.meter()
        self._parts: list[str] = []
        self._pos = 0
        self._tables: list[SourceTable] = []
        self.warnings: list[str] = []
        self.metadata: dict[str, str] = {}
        self._nuls = 0
        self._radicals = 0

    def _write(self, s: str) -> None:
        self._parts.append(s)
        self._pos += len(s)

    def _clean(self, text: str) -> str:
        text, nuls = drop_nuls(text)
        self._nuls += nuls
        text, radicals = radicals_as_characters(text)
        self._radicals += radicals
        return text

    def _ends_with_blank_line(self) -> bool:
        if not self._parts:
            return True
        tail = "".join(self._parts[-2:])
        return tail.endswith("\n\n")

    def paragraph(self, text: str) -> None:
        """One paragraph: its own line(s).  Empty paragraphs are skipped."""
        # Tabs inside a paragraph are kept: some reports lay tables out with tabs.
        lines = [_SPACE_RUN_NO_TAB.sub(" ", line).strip(" \t")
                 for line in self._clean(text).replace("\r", "\n").split("\n")]
        lines = [line for line in lines if line]
        if lines:
            self.meter.add_paragraphs(len(lines))
            written = "\n".join(lines) + "\n"
            self.meter.add_chars(len(written))
            self._write(written)

    def table(self, grid: Grid) -> None:
        """One table: a row per line, cells separated by tabs, a blank line around it."""
        grid = grid.without_empty_rows().without_empty_columns()
        if not grid.texts:
            return
        texts = [[clean_cell(self._clean(t)) for t in row] for row in grid.texts]
        self.meter.add_paragraphs(len(texts))
        self.meter.add_chars(sum(len(t) + 1 for row in texts for t in row))
        if sum(1 for row in texts for t in row if t) <= 1 and len(texts) <= 1:
            # A one-cell "table" is a framed paragraph, not data.
            self.paragraph(" ".join(t for row in texts for t in row))
            return
        if not self._ends_with_blank_line():
            self._write("\n")
        start = self._pos
        rows: list[list[Cell]] = []
        for r, row in enumerate(texts):
            cells: list[Cell] = []
            for c, t in enumerate(row):
                if c:
                    self._write("\t")
                if (r, c) in grid.origin:
                    cells.append(Cell("", self._pos, self._pos))  # replaced by the origin below
                    continue
                cells.append(Cell(t, self._pos, self._pos + len(t)))
                self._write(t)
            rows.append(cells)
            self._write("\n")
        end = self._pos - 1
        spanned = set(grid.origin)
        # Merged cells: every position a cell covers holds that cell (see SourceTable);
        # the rendered text shows it once, at its top-left position.
        for (r, c), (orr, oc) in grid.origin.items():
            rows[r][c] = rows[orr][oc]
        self._tables.append(SourceTable(rows=rows, start=start, end=end, spanned=spanned))
        self._write("\n")

    def build(self) -> Document:
        if self._nuls:
            self.warnings.append(nul_warning(self._nuls))
        if self._radicals:
            self.warnings.append(radical_warning(self._radicals))
        text = "".join(self._parts).rstrip("\n")
        text = text + "\n" if text else ""
        tables = [t for t in self._tables if t.start < len(text)]
        return Document(text=text, format=self.format, tables=tables, warnings=list(self.warnings),
                        metadata={k: v for k, v in self.metadata.items() if v})


def _radical_table() -> dict[int, str]:
    """Radical code points some PDF producers (Chrome's print to PDF, some fonts) map
    their glyphs to, to the characters they stand for: the Kangxi radicals by their
    Unicode compatibility mapping (⼀ → 一, ⾏ → 行), and the radicals supplement's forms
    that stand alone in simplified text (⺠ → 民, ⻓ → 长).  One character for one, so
    no offset moves."""
    table = {cp: unicodedata.normalize("NFKC", chr(cp)) for cp in range(0x2F00, 0x2FD6)}
    pairs = ("⺠民 ⻓长 ⻔门 ⻅见 ⻚页 ⻛风 ⻜飞 ⻝食 ⻢马 ⻥鱼 ⻦鸟 ⻬齐 ⻰龙 ⻉贝 ⻋车 ⻄西 ⻈讠 ⻆角 "
             "⻩黄 ⻨麦 ⻙韦 ⻘青 ⻗雨 ⻣骨 ⻤鬼 ⻧卤 ⻮齿 ⻑長 ⻁虎 ⺮竹 ⺼肉 ⺽臼 ⻊足 ⻐钅 ⺰纟 ⻟饣 "
             "⺁厂 ⺊卜 ⺌小 ⺗心 ⺜日 ⺝月 ⺞歹 ⺩王 ⺬示 ⺯糸 ⺶羊 ⺳网 ⺺聿 ⻡首 ⺟母 ⻳龟")
    table.update({ord(pair[0]): pair[1] for pair in pairs.split()})
    return {cp: ch for cp, ch in table.items() if len(ch) == 1}


_RADICALS = _radical_table()
_RADICAL_RUN = re.compile("[⺀-⻿⼀-⿕]")


def radicals_as_characters(text: str) -> tuple[str, int]:
    """``text`` with radical code points read as the characters they stand for, and how
    many were changed."""
    count = sum(1 for m in _RADICAL_RUN.finditer(text) if ord(m.group()) in _RADICALS)
    return (text.translate(_RADICALS), count) if count else (text, 0)


def radical_warning(count: int) -> str:
    return f"{count} radical code points (⼀ for 一, as some PDF producers write them) were read as characters"


def drop_nuls(text: str) -> tuple[str, int]:
    """``text`` without its NUL characters (a figure they split is whole again), and how
    many there were."""
    if "\x00" not in text:
        return text, 0
    return text.replace("\x00", ""), text.count("\x00")


def nul_warning(count: int, where: str = "text") -> str:
    return f"{count} NUL characters were removed from the {where}"


_METADATA_DATE = re.compile(r"(?:D:)?((?:19|20)\d{2})-?(\d{2})-?(\d{2})")


def metadata_date(value: object) -> str | None:
    """YYYY-MM-DD of a metadata date (a datetime, ``D:20240120…``, ``2024-01-20 …``)."""
    if value is None:
        return None
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d")
    m = _METADATA_DATE.match(str(value).strip())
    return f"{m.group(1)}-{m.group(2)}-{m.group(3)}" if m else None
