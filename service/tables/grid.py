"""Text of a table region → rows of cells with offsets, whatever the layout.

The same table reaches us as tab-separated rows, as one cell per line (each
line led by a tab, rows separated by blank lines), as markdown pipes, as a
PDF-like line of space-separated figures, or as ``SourceTable`` grids that an
ingester delimited.  This module turns all of them into ``GridRow``s (cells
with offsets into ``Document.text``), then into ``TableRow``s: the label cells,
the value cells after them, the parent labels carried down from merged cells
and wrapped labels joined to the figures printed on the next line.

Nothing here knows canonical keys; that is the classifier's job.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import lru_cache, partial
from itertools import accumulate
from typing import NamedTuple

from service.numbers import chinese_to_int, fold
from service.tables.headers import is_header_row
from service.types import SourceTable

# --- one cell ---------------------------------------------------------------

# A figure as a table cell writes it: sign (the 2019 layout's 本年增/减),
# thousands separators, a decimal part, and an optional unit.
_NUMBER = re.compile(r"([+\-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)\s*(?:件|个|条|项|次|笔|万元|元)?")
_DASH = re.compile(r"[/\\\-—–―~]+")
_NONE_WORDS = {"无"}
# Digits mixed with look-alike letters or marks (OCR and typing slips): a
# value cell we cannot read, flagged rather than guessed.
_UNREADABLE = re.compile(r"(?=.*\d)(?=.*[OoIl?？*#xX])[\dOoIl?？*#xX,.]{1,8}")
_SPACE = re.compile(r"\S+")


@lru_cache(maxsize=8192)
def cell_kind(text: str) -> str:
    """``blank``, ``value`` (figure, dash, 无, unreadable figure) or ``label``."""
    s = fold(text).strip()
    if not s:
        return "blank"
    if _NUMBER.fullmatch(s) or _DASH.fullmatch(s) or s in _NONE_WORDS or _UNREADABLE.fullmatch(s):
        return "value"
    return "label"


class GridCell(NamedTuple):
    """One cell: its source text (stripped; may hold newlines) and offsets."""

    text: str
    start: int
    end: int
    kind: str  # "blank" | "value" | "label"


# GridCell from a tuple of its fields, without the Python-level frame of a named
# tuple's ``__new__`` or ``_make`` (a report has a few hundred cells).
_new_cell = partial(tuple.__new__, GridCell)


class CellValue(NamedTuple):
    """What a value cell says: the value, why it is flagged, and where the figure is."""

    value: int | float | str | None
    reason: str | None  # None for a plain figure, else blank/dash/none_word/unreadable
    raw: str
    start: int
    end: int


_new_value = partial(tuple.__new__, CellValue)  # (see _new_cell)


def read_value(cell: GridCell) -> CellValue:
    """The value of a value cell, reported as it reads (``null`` for blank)."""
    value, reason, raw, lead, length = _parse_cell(cell.text)
    if reason == "blank":
        return _new_value((None, "blank", "", cell.start, cell.start))
    start = cell.start + lead
    return _new_value((value, reason, raw, start, start + length))


@lru_cache(maxsize=8192)
def _parse_cell(text: str) -> tuple[int | float | str | None, str | None, str, int, int]:
    """(value, flag reason, raw text, offset of the figure, its length) of a cell's text."""
    s = fold(text)
    core = s.strip()
    lead = len(s) - len(s.lstrip())
    if not core:
        return None, "blank", "", 0, 0
    m = _NUMBER.fullmatch(core)
    if m:
        number = m.group(1)
        digits = number.lstrip("+-−").replace(",", "")
        value: int | float = float(digits) if "." in digits else int(digits)
        if number[0] in "-−":
            value = -value
        return value, None, text.strip()[:len(number)], lead, len(number)
    raw = text.strip()
    if _DASH.fullmatch(core):
        return raw, "dash", raw, lead, len(core)
    if core in _NONE_WORDS:
        return raw, "none_word", raw, lead, len(core)
    return None, "unreadable", raw, lead, len(core)


_INNER_SPACE = re.compile(r"\S\s+\S")


def split_cell(text: str, start: int, end: int) -> list[GridCell]:
    """One delimited cell → cells: a lone figure, several space-separated figures,
    or a label followed by the figures printed after it on the same line."""
    return [GridCell(t, start + a, start + b, kind) for t, a, b, kind in _cell_parts(text[start:end])]


@lru_cache(maxsize=16384)
def _cell_parts(raw: str) -> tuple[tuple[str, int, int, str], ...]:
    """``split_cell`` of ``raw`` alone: (text, start, end, kind) of each cell, offsets
    within ``raw``.  Cached: most cells of a table are short strings ("0", "12",
    "", "—") that every report repeats."""
    if not _INNER_SPACE.search(raw):  # the common case: one token (or none)
        stripped = raw.strip()
        if not stripped:
            return (("", 0, 0, "blank"),)
        a = len(raw) - len(raw.lstrip())
        return ((stripped, a, a + len(stripped), cell_kind(stripped)),)
    tokens = list(_SPACE.finditer(raw))
    kinds = [cell_kind(t.group()) for t in tokens]
    if len(tokens) == 1 or "label" not in kinds:
        if "label" in kinds or len(tokens) == 1:
            a, b = tokens[0].start(), tokens[-1].end()
            return ((raw[a:b], a, b, cell_kind(raw[a:b])),)
        return tuple((t.group(), t.start(), t.end(), "value") for t in tokens)
    # A label and then figures: peel the figures off the end.
    k = len(tokens)
    while k > 0 and kinds[k - 1] == "value":
        k -= 1
    a, b = tokens[0].start(), tokens[k - 1].end()
    return ((raw[a:b], a, b, "label"),) + tuple((t.group(), t.start(), t.end(), "value")
                                                 for t in tokens[k:])


# --- rows from text -----------------------------------------------------------

# Page furniture a PDF leaves inside a table: "-3-", "— 3 —", "第 3 页 共 9 页".
# ("3/9" is not taken for a footer: "0 / 351" is a row of figures with a blank marker.)
_FOOTER = re.compile(r"[-—–－]\s*\d{1,4}\s*[-—–－]|第\s*\d{1,4}\s*页(?:\s*[,，/]?\s*共\s*\d{1,4}\s*页)?")
# What every footer line holds (a dash or 第, a number, a dash or 页, on one line):
# a block without it needs no line-by-line footer check.
_FOOTER_LIKE = re.compile(r"[-—–－第][^\S\n]*\d{1,4}[^\S\n]*[-—–－页]")
# A run of consecutive non-blank lines.  A blank line holds nothing but spaces,
# U+3000, form feeds and \r; a line holding a tab is not blank ("\t" alone is an
# empty cell, not a separator between rows).
_BLOCK = re.compile(r"^[ \u3000\f\r]*[^ \u3000\f\r\n].*(?:\n[ \u3000\f\r]*[^ \u3000\f\r\n].*)*", re.M)
# A tab between two cells of a line (not just leading or trailing ones): tab rows.
# (Written to start with the tab, so that the search skips to tabs at C speed.)
_INNER_TAB = re.compile(r"\t(?<=[^\t\n]\t)\t*[^\t\n]")
_MD_SEPARATOR = re.compile(r":?-{2,}:?")


class GridRow(NamedTuple):
    """One physical row of a table: cells in reading order with offsets."""

    cells: list[GridCell]
    start: int
    end: int


def _row(cells: list[GridCell], fallback: int) -> GridRow:
    """A row spanning from its first filled cell to the end of its last cell."""
    start = end = None
    for c in cells:
        if c.kind != "blank" and (start is None or c.start < start):
            start = c.start
        if end is None or c.end > end:
            end = c.end
    if start is None:
        start = min((c.start for c in cells), default=fallback)
    if end is None:
        end = fallback
    return GridRow(cells, start, max(start, end))


def _text_row(cells: list[GridCell], fallback: int) -> GridRow:
    """``_row`` for cells read from text, which are in offset order: the first
    filled cell starts the row, the last cell ends it."""
    if not cells:  # (a markdown line of a lone bar)
        return GridRow(cells, fallback, fallback)
    for cell in cells:
        if cell.kind != "blank":
            start = cell.start
            break
    else:
        start = cells[0].start
    return GridRow(cells, start, max(start, cells[-1].end))


def _add_cells(cells: list[GridCell], raw: str, at: int) -> None:
    """Append the cells of one delimited piece of text ``raw`` found at offset ``at``."""
    cells.extend([_new_cell((t, at + a, at + b, kind)) for t, a, b, kind in _cell_parts(raw)])


def _cells(pieces: list[str], at: int, gap: int) -> list[GridCell]:
    """The cells of consecutive pieces of text, the first at offset ``at``, each
    ``gap`` characters (its delimiter) after the end of the one before."""
    starts = accumulate([len(p) + gap for p in pieces], initial=at)
    return [_new_cell((t, start + a, start + b, kind))
            for piece, start in zip(pieces, starts) for t, a, b, kind in _cell_parts(piece)]


def _tab_row(line: str, at: int) -> GridRow:
    """A line of tab-separated cells (or of no delimiter at all) found at ``at``."""
    return _text_row(_cells(line.split("\t"), at, 1), at)


def text_rows(text: str, start: int = 0, end: int | None = None) -> list[GridRow]:
    """Every row of ``text[start:end]``, whatever the layout, with offsets into ``text``.

    Blank lines separate blocks of rows; each block is read as a whole.  The
    layouts most text takes (tab rows, lines without delimiters, one cell per
    line) are read straight from the block's text; markdown, \r line ends,
    page footers and mixed layouts go through ``_block_rows`` line by line.
    """
    end = len(text) if end is None else end
    rows: list[GridRow] = []
    blocks = list(_BLOCK.finditer(text[start:end]))
    skip_to = 0
    for i, block in enumerate(blocks):
        if i < skip_to:
            continue
        chunk = block.group()
        at = start + block.start()
        row = _paragraph_row(blocks, i, start)
        if row is not None:
            cells, skip_to = row
            rows.append(_text_row(cells, cells[0].start))
            continue
        if "|" in chunk or "\r" in chunk or _FOOTER_LIKE.search(chunk):
            rows.extend(_block_rows(text, _block_lines(chunk, at)))
        elif _INNER_TAB.search(chunk) or not (chunk[0] == "\t" or "\n\t" in chunk):
            # Tab rows, or lines without cell delimiters (prose, figures after a label): a row each.
            for line in chunk.split("\n"):
                rows.append(_tab_row(line, at))
                at += len(line) + 1
        elif chunk[0] == "\t" and chunk.count("\n") == chunk.count("\n\t"):
            # One cell per line, every line led by its tab: the block is one row.
            cells = _cells(chunk[1:].split("\n\t"), at + 1, 2)
            rows.append(_text_row(cells, cells[0].start))
        else:  # one cell per line with labels wrapped over lines
            rows.extend(_block_rows(text, _block_lines(chunk, at)))
    return rows


#: A block of nothing but tabs and empty cells (no-break spaces): what stands between
#: two cells printed as paragraphs.
_SEPARATOR_BLOCK = re.compile(r"[\t \u3000\xa0\r\n]*\t[\t \u3000\xa0\r\n]*")


def _paragraph_row(blocks: list[re.Match], i: int, start: int
                   ) -> tuple[list[GridCell], int] | None:
    """A row of cells printed as paragraphs, starting at block ``i``: a browser's
    innerText of a table whose cells hold <p> puts a tab between two cells and a blank
    line around each, so the blocks are a cell, a lone tab, a cell …  Between two cells,
    each tab beyond the first is an empty cell (so is each no-break space the page put
    in one); a run that ends with empty cells ends the row.  Returns the row's cells
    and the index of the block after it, or None where block ``i`` starts no such row."""
    def separator(k: int) -> bool:
        return _SEPARATOR_BLOCK.fullmatch(blocks[k].group()) is not None

    if separator(i) or i + 1 == len(blocks) or not separator(i + 1):
        return None
    cells: list[GridCell] = []
    k = i
    while True:
        _add_cells(cells, blocks[k].group(), start + blocks[k].start())
        run = k + 1
        while run < len(blocks) and separator(run):
            run += 1
        tabs = [start + blocks[j].start() + m.start() for j in range(k + 1, run)
                for m in re.finditer("\t", blocks[j].group())]
        if not tabs:
            return cells, run
        ends_with_tab = blocks[run - 1].group().rstrip(" \u3000\r\n").endswith("\t")
        closing = not ends_with_tab or run == len(blocks)
        blanks = tabs if closing else tabs[1:]  # (each tab after the first opens an empty cell)
        cells.extend(_new_cell(("", at, at, "blank")) for at in blanks)
        if closing:
            return cells, run
        k = run


def _block_lines(chunk: str, at: int) -> list[tuple[int, str]]:
    """(offset, text without a trailing \r) of the lines of a block found at ``at``,
    page footers left out."""
    lines = []
    for raw in chunk.split("\n"):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not (len(line) <= 16 and _FOOTER.fullmatch(line.strip(" \t\u3000\f"))):
            lines.append((at, line))
        at += len(raw) + 1
    return lines


#: A markdown row whose first bar was lost with the line break before it: text, then
#: cells between bars to the end of the line (…1.本机关不掌握相关政府信息| 1 | 0 |).
_LABELLED_PIPE_ROW = re.compile(r"[^|\t]*[^|\s][^|\t]*\|(?:[^|\n]*\|){2,}[ \t]*")


def _is_pipe_row(line: str) -> bool:
    return line.lstrip().startswith("|") or (line.endswith("|") or line.rstrip().endswith("|")) \
        and _LABELLED_PIPE_ROW.fullmatch(line) is not None


def _pipe_cells(line: str, at: int) -> list[GridCell] | None:
    """Cells of a markdown row found at ``at``, or None for the |---|---| separator."""
    lead, *pieces = line.split("|")  # (``lead``: the spaces before the first bar)
    if not pieces[-1].strip():
        pieces.pop()  # nothing after the last bar
    contents = [p.strip() for p in pieces]
    if any(contents) and all(not c or _MD_SEPARATOR.fullmatch(c) for c in contents):
        return None
    return _cells(pieces, at + len(lead) + 1, 1)


def _rows_run_together(cells: list[GridCell]) -> list[list[GridCell]]:
    """A markdown line's cells split where a label follows a figure: rows whose line
    breaks were lost (|0|0|1.属于国家秘密|0|0|) run on in one line of bars."""
    parts: list[list[GridCell]] = [[]]
    for prev, cell in zip([None, *cells], cells):
        if cell.kind == "label" and prev is not None and prev.kind == "value":
            parts.append([])
        parts[-1].append(cell)
    return parts


def _block_rows(text: str, block: list[tuple[int, str]]) -> list[GridRow]:
    """Rows of a block of lines (offset, text), whatever the layout."""
    if not block:  # (a block of page footers)
        return []
    pipes = [_is_pipe_row(s) for _, s in block]
    plain = [s for (_, s), pipe in zip(block, pipes) if not pipe]
    # A tab between two cells (not just leading or trailing ones) means tab rows.
    tab_rows = any("\t" in s.strip("\t") for s in plain)
    cell_per_line = not tab_rows and any(s.startswith("\t") for s in plain)
    rows: list[GridRow] = []
    # Cell-per-line layout: the cells of the row being built, where the last line's
    # cell(s) begin in ``cells``, and its span of text (to extend a wrapped label).
    cells: list[GridCell] = []
    last_at, last_start, last_end = 0, 0, 0
    for (at, s), pipe in zip(block, pipes):
        if cell_per_line and not pipe:
            if s.startswith("\t"):
                last_at, last_start, last_end = len(cells), at + 1, at + len(s)
                _add_cells(cells, s[1:], last_start)
                continue
            # A line without the leading tab continues a label cell broken over
            # lines (商业\n企业); after a figure it is text of its own.
            if cells and cell_kind(text[last_start:last_end]) == "label":
                del cells[last_at:]
                last_end = at + len(s)
                _add_cells(cells, text[last_start:last_end], last_start)
                continue
        if cells:
            rows.append(_text_row(cells, cells[0].start))
            cells = []
        if pipe:
            lead = s.index("|")
            if s[:lead].strip():
                # text before the first bar: a line of its own that lost its line break
                # (a torn label), read as the line it was
                rows.append(_tab_row(s[:lead], at))
                s, at = s[lead:], at + lead
            pipe_cells = _pipe_cells(s, at)
            if pipe_cells is not None:
                rows.extend(_text_row(part, at) for part in _rows_run_together(pipe_cells))
        else:
            rows.append(_tab_row(s, at))
    if cells:
        rows.append(_text_row(cells, cells[0].start))
    return rows


def source_table_rows(text: str, table: SourceTable) -> list[GridRow]:
    """Rows of a grid an ingester delimited; copies of merged cells are dropped
    (a label merged over eight rows is carried down like any other)."""
    rows: list[GridRow] = []
    for r, row in enumerate(table.rows):
        cells: list[GridCell] = []
        for c, cell in enumerate(row):
            if (r, c) in table.spanned:
                continue
            if 0 <= cell.start <= cell.end <= len(text):
                cells.extend(split_cell(text, cell.start, cell.end))
            else:
                cells.append(GridCell(cell.text, cell.start, cell.end, cell_kind(cell.text)))
        if cells:
            rows.append(_row(cells, table.start))
    return rows


# --- rows as a table reader sees them ---------------------------------------------


@dataclass
class TableRow:
    """A logical row: label cells, the value cells after them, and context."""

    labels: list[GridCell]
    values: list[GridCell]
    context: list[str]  # parent labels carried down (merged cells, group rows)
    start: int
    end: int
    header: bool = False
    wrapped: bool = False  # the label came from a line of its own above the figures
    cells: list[GridCell] = field(default_factory=list)  # the header's cells, for headers
    _filled: tuple | None = field(default=None, repr=False, compare=False)

    @property
    def label_text(self) -> str:
        return " ".join(c.text for c in self.labels)

    @property
    def filled(self) -> int:
        """Number of value cells that are not blank."""
        if self._filled is None or self._filled[0] is not self.values:
            self._filled = (self.values, sum(1 for c in self.values if c.kind != "blank"))
        return self._filled[1]


#: A leaf row's number in a label: 1. 2、 (not a group's （三）, not a decimal point).
_ROW_NUMBER = re.compile(r"(?<![0-9０-９.．])[0-9０-９]{1,2}\s*[.．、](?![0-9０-９])")


def _lone_figure(row: GridRow) -> GridCell | None:
    """The one figure of a line that holds nothing else (but the empty cell a leading
    tab makes), else None."""
    cells = row.cells
    i = 0
    while i < len(cells) - 1 and cells[i].kind == "blank":
        i += 1
    return cells[i] if i == len(cells) - 1 and cells[i].kind == "value" else None


def _row_numbers(labels: list[GridCell]) -> int:
    """How many leaf row numbers (1. 2、) the label cells hold."""
    return sum(len(_ROW_NUMBER.findall(c.text)) for c in labels)


#: The number a row's label starts with: 1. 2、 （二） 四、
_LABEL_NUMBER = re.compile(r"(?P<leaf>[0-9０-９]{1,2})\s*[.．、](?![0-9０-９])"
                           r"|[（(](?P<group>[一二三四五六七八九十]{1,2})[)）]"
                           r"|(?P<part>[一二三四五六七八九十]{1,2})、")
#: Two Chinese characters: the least a label on a line of its own has (规章, 总计).
_WHOLE_LABEL = re.compile(r"(?:[^\u4e00-\u9fff]*[\u4e00-\u9fff]){2}")


def _is_label_piece(text: str) -> bool:
    """A label line that cannot be a whole label: a bracket, a quote or a single
    character, or a line that closes a bracket or quote opened above it."""
    return not _WHOLE_LABEL.match(text) or text[:1] in "）)”」』》"


def _joined_label(pending: list[_Pending]) -> tuple[list[GridCell], list[str]]:
    """One label cell from the pending label lines, from the last one holding the
    start of a row number (（ 二 ） counts from its bracket) to the end; the lines
    before it are the context."""
    cells = [c for p in pending for c in p.labels]
    joined = "".join(c.text for c in cells)
    starts = list(accumulate((len(c.text) for c in cells[:-1]), initial=0))
    numbers = list(_LABEL_NUMBER.finditer(joined))
    first = 0
    if numbers:
        first = bisect_right(starts, numbers[-1].start()) - 1
    own = cells[first:]
    label = _new_cell(("".join(c.text for c in own), own[0].start, own[-1].end, "label"))
    return [label], [c.text for c in cells[:first]]


def _label_number(text: str) -> tuple[str, int] | None:
    """("leaf" | "group" | "part", n) for a label that starts with its number (1. 2、,
    （二）, 四、)."""
    m = _LABEL_NUMBER.match(text.lstrip())
    if m is None:
        return None
    kind = m.lastgroup
    number = m.group(kind)
    return kind, int(fold(number)) if kind == "leaf" else chinese_to_int(number)


def next_row_label(before: str, after: str) -> bool:
    """Whether label ``after`` is the template's next row after ``before`` with no row
    between them: the next leaf (2. after 1.), or, after a leaf or a row numbered like
    a group (（二）部分公开), the next group or part (（三） after 5., 四、 after （七）).
    A group followed by its own first leaf (（三）不予公开 → 1.) is not: it is a parent."""
    a, b = _label_number(before), _label_number(after)
    if a is None or b is None:
        return False
    if a[0] == "leaf":
        return (b[0] == "leaf" and b[1] == a[1] + 1) or b[0] in ("group", "part")
    if a[0] == "group":
        return (b[0] == "group" and b[1] == a[1] + 1) or b[0] == "part"
    return False


def _rows_left_blank(before: TableRow | None, pending: list[_Pending]) -> list[_Pending]:
    """In a table printed one cell per line (its rows in document order), the labels
    waiting above a figure that are rows whose cells were all blank: where the row
    before them (read with its figures) and each label in turn are followed by the
    template's next row (1. with figures, then 2. 3. 4. 5. and a figure: 2.–4. are
    blank, the figure is 5.'s), a group label being the parent of the row after it.
    Any break in that chain (labels torn from their figures, a column printed after
    another) and none is."""
    if before is None or before.header or not before.labels or not before.values or not before.wrapped:
        return []
    if any(len(p.labels) != 1 for p in pending):
        return []
    own = before.labels[-1].text  # (from its own number: 三、本年度办理结果（一）予以公开 is （一）'s)
    numbers = list(_LABEL_NUMBER.finditer(own))
    labels = [own[numbers[-1].start():] if numbers else own] + [p.labels[0].text for p in pending]
    blank = []
    for k in range(1, len(labels) - 1):
        if next_row_label(labels[k], labels[k + 1]):
            blank.append(pending[k - 1])
        elif not (_label_number(labels[k]) or ("", 0))[0] == "group":
            return []  # (neither the next row nor a parent of it)
    if not next_row_label(labels[0], labels[1]):
        return []
    return blank


class _Pending(NamedTuple):
    """A row of labels without figures, waiting for the figures below it."""

    labels: list[GridCell]
    context: list[str]
    start: int


def table_rows(grid: list[GridRow]) -> list[TableRow]:
    """Physical rows → logical rows: headers marked, parents carried down,
    wrapped labels joined to the figures on the next line."""
    out: list[TableRow] = []
    carried: list[str] = []
    pending: list[_Pending] = []  # label rows (no figures yet) since the last data row
    # The last row was a label with one figure on the line below it: a table printed
    # one cell per line without delimiters (a crawler's get_text("\n")) continues it
    # with one figure per line.
    one_per_line = False
    # The table is printed one cell per line (a label then its figures, each on a line of
    # its own): its rows come in document order, so a label directly followed by the
    # next row's label is a row whose cells are all blank (the blank cells left no line).
    cells_per_line = False
    blank_before = 0  # blank rows just put before the row whose figures are being read
    for row in grid:
        lone = _lone_figure(row)
        if one_per_line and lone is not None and row.start == lone.start:
            last_row = out[-1]
            out[-1] = TableRow(last_row.labels, last_row.values + [lone], last_row.context,
                               last_row.start, row.end, wrapped=True)
            continue
        _undo_blank_rows(out, blank_before)
        one_per_line, blank_before = False, 0
        # The label cells, and the cells after the last label: the row's figures.
        cells = row.cells
        last = len(cells)
        while last and cells[last - 1].kind != "label":
            last -= 1
        labels = [c for c in cells[:last] if c.kind == "label"] if last > 1 else cells[:last]
        values = cells[last:]
        filled = False
        for c in values:
            if c.kind != "blank":
                filled = True
                break
        if not labels:
            if not filled:
                continue  # an empty line of cells
        elif not filled and is_header_row([c.text for c in labels]):
            out.append(TableRow(labels, [], [], row.start, row.end, header=True, cells=cells))
            pending, carried, cells_per_line = [], [], False
            continue
        elif not values:
            pending.append(_Pending(labels, list(carried), row.start))
            continue
        elif filled and _row_numbers(labels[-1:]) >= 2:
            # several numbered labels in the cell beside one row of figures (5.属于…1.本机关
            # 不掌握…| 1 |): torn labels run together, whose figures these are is unknown
            out.append(TableRow([], values, list(carried), row.start, row.end))
            pending = []
            continue
        else:
            if len(labels) > 1:
                context = [c.text for c in labels[:-1]]
            elif pending:
                context = [c.text for p in pending for c in p.labels]
            else:
                context = list(carried)
            out.append(TableRow(labels[-1:], values, context, row.start, row.end))
            cells_per_line = False  # (a label beside its figures: not one cell per line)
            if len(labels) > 1 or pending:
                carried = context
            pending = []
            if not filled:
                # A label with empty cells only: a parent printed over a merged
                # row, or a data row left blank; both are possible.
                pending = [_Pending(labels, list(carried), row.start)]
                carried = [c.text for c in labels]
            continue
        # Figures without a label: the label is the line above (wrapped), unless
        # several numbered rows' labels wait above one row of figures (a converter
        # tore labels from their figures): whose figures they are is then unknown.
        if cells_per_line and lone is not None and len(pending) > 1:
            blank_rows = _rows_left_blank(out[-1] if out else None, pending)
            for own in blank_rows:
                label = own.labels[0]
                out.append(TableRow([label], [_new_cell(("", label.end, label.end, "blank"))],
                                    own.context, own.start, label.end, wrapped=True))
            if blank_rows:
                pending = [p for p in pending if p not in blank_rows]
                blank_before = len(blank_rows)
        if sum(_row_numbers(p.labels) for p in pending) >= 2:
            out.append(TableRow([], values, list(carried), row.start, row.end))
            pending = []
        elif pending:
            own = pending[-1]
            if len(own.labels) > 1:  # parents printed beside the label, as in any row
                labels, context = own.labels[-1:], [c.text for c in own.labels[:-1]]
            elif len(pending) > 1 and _is_label_piece(own.labels[0].text):
                # a label broken at every character run (（\n二\n）\n部分公开\n…\n）): its
                # pieces from its own number on are the label, what comes before is context
                labels, context = _joined_label(pending)
            else:
                labels = own.labels
                context = [c.text for p in pending[:-1] for c in p.labels] or own.context
            # A blank row we kept as a candidate is the same row: drop it.
            if out and not out[-1].header and out[-1].start == own.start and out[-1].filled == 0:
                out.pop()
            one_per_line = lone is not None
            cells_per_line = one_per_line
            if one_per_line:
                values = [lone]  # (not the empty cell before it on a line led by a tab)
            out.append(TableRow(labels, values, context, own.start, row.end, wrapped=True))
            carried = context if context else carried
            pending = []
        else:
            out.append(TableRow([], values, list(carried), row.start, row.end))
    _undo_blank_rows(out, blank_before)
    return out


#: The most cells a labelled row of the template has (table 3's seven).
MAX_ROW_CELLS = 7


def _undo_blank_rows(out: list[TableRow], blank_before: int) -> None:
    """Take back the blank rows just put before the last row when that row read more
    figures than a row has: the labels above it were torn from their figures (one
    column printed after another), not rows left blank."""
    if blank_before and len(out[-1].values) > MAX_ROW_CELLS:
        del out[-1 - blank_before:-1]
