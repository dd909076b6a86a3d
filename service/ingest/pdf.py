"""PDF with a text layer (pdfplumber): prose re-joined, tables read from ruling lines.

What published government PDFs (Word/WPS exports) need, and what this does:

- table cells come from the ruling lines (``find_tables`` with the ``lines``
  strategy); a cell's text is every character whose centre lies inside it, its
  visual lines glued back together (labels wrap inside narrow cells);
  merged cells are recovered by laying all cell edges of a table on one grid;
- a table that runs over a page break (last thing on one page, first on the
  next, same left and right edges) is one table; header rows repeated on the
  new page are dropped;
- page numbers (``- 3 -``, ``第3页``, ``3/10``) and running headers/footers
  (the same line at the same height on several pages) are removed;
- prose lines are re-joined into paragraphs: a line that reaches the right
  margin and does not end a sentence continues into the next line when that
  one starts at the left margin, so ``在政`` + ``府网站发布各类信息 512 条``
  reads whole;
- text outside ruled tables whose words stand in columns (wide gaps) is kept
  as one line with tab-separated segments, the layout plain-text reports use.

Pages without a text layer (scans) are read by OCR: ``service.ingest.scan``.

Speed: the parse (pdfminer) is most of the cost, so nothing is done twice or
quadratically after it: chars are read from pdfminer's layout objects rather than
pdfplumber's ``page.chars`` dicts, duplicates are removed with an exact copy of
``dedupe_chars`` without its quadratic sort, ``find_tables`` runs only on pages
that draw lines, and chars are put in table cells through an index on their
height.  tests/test_pdf_speed_paths.py checks each against pdfplumber's own.
"""

from __future__ import annotations

import io
import re
from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass, field

from service.budget import DEFAULT, Meter
from service.ingest.render import DocumentBuilder, Grid, is_wide, join_wrapped
from service.types import Document, ExtractionError, Glyph

#: Sentence-final punctuation: a line ending with it ends its paragraph.
_SENTENCE_END = set("。！？；：!?;:")
_PAGE_NUMBER = re.compile(
    r"^(?:[-—–－_·•\s]*\d{1,4}[-—–－_·•\s]*"
    r"|第\s*\d{1,4}\s*页(?:\s*[,，/]?\s*共\s*\d{1,4}\s*页)?"
    r"|共\s*\d{1,4}\s*页\s*第\s*\d{1,4}\s*页"
    r"|\d{1,4}\s*/\s*\d{1,4}"
    r"|[Pp]age\s*\d{1,4}(?:\s*of\s*\d{1,4})?)$")
#: Top/bottom share of a page where running headers, footers and page numbers sit.
_MARGIN_ZONE = 0.12


@dataclass
class Char:
    text: str
    x0: float
    x1: float
    top: float  # on its page
    bottom: float
    size: float
    page: int = 0


@dataclass
class Line:
    """One visual line of prose; ``segments`` are runs of text separated by wide gaps."""

    page: int
    top: float
    bottom: float
    x0: float
    x1: float
    size: float
    segments: list[str]
    #: The line ended with a space character (a wrap at a space, kept when re-joining).
    trailing_space: bool = False
    #: Its chars, left to right.
    chars: list[Char] = field(default_factory=list, repr=False)

    @property
    def text(self) -> str:
        return "\t".join(self.segments)


@dataclass
class PdfCell:
    x0: float
    x1: float
    top: float  # document coordinates: page offset + top on the page
    bottom: float
    text: str
    #: Its chars in the order of ``text``.
    chars: list[Char] = field(default_factory=list, repr=False)


@dataclass
class TableFragment:
    page: int
    x0: float
    x1: float
    top: float
    bottom: float
    cells: list[PdfCell] = field(default_factory=list)


@dataclass
class Page:
    number: int
    width: float
    height: float
    offset: float
    blocks: list[Line | TableFragment] = field(default_factory=list)
    #: Read by OCR from an image: it may sit a few millimetres off the other pages.
    scanned: bool = False


# --- characters into lines ------------------------------------------------------------

def _group_lines(chars: list[Char]) -> list[list[Char]]:
    """Chars into visual lines: a char joins the line its vertical centre falls in."""
    lines: list[list[Char]] = []
    top = bottom = 0.0
    for ch in sorted(chars, key=lambda c: (c.top, c.x0)):
        mid = (ch.top + ch.bottom) / 2
        if lines and top <= mid <= bottom:
            lines[-1].append(ch)
            bottom = max(bottom, ch.bottom)
        else:
            lines.append([ch])
            top, bottom = ch.top, ch.bottom
    return [sorted(line, key=lambda c: c.x0) for line in lines]


def _segments(line: list[Char]) -> list[str]:
    """A line's text, split where a gap is wide enough to separate columns."""
    segments: list[str] = []
    current = ""
    prev: Char | None = None
    for ch in line:
        if prev is not None:
            gap = ch.x0 - prev.x1
            size = max(prev.size, ch.size, 1.0)
            if gap > 2.0 * size:
                segments.append(current)
                current = ""
            elif ch.text != " " and prev.text != " " and current:
                both_wide = is_wide(prev.text[-1:] or " ") and is_wide(ch.text[:1] or " ")
                if gap > (1.0 if both_wide else 0.3) * size and not current.endswith(" "):
                    current += " "
        if ch.text == " ":
            if current and not current.endswith(" "):
                current += " "
        else:
            current += ch.text
        prev = ch
    segments.append(current)
    return [s.strip() for s in segments if s.strip()]


def _cell_text(chars: list[Char]) -> str:
    return "\n".join(" ".join(_segments(line)) for line in _group_lines(chars))


# --- reading pages with pdfplumber -------------------------------------------------------

_TABLE_SETTINGS = {"vertical_strategy": "lines", "horizontal_strategy": "lines",
                   "snap_tolerance": 3, "join_tolerance": 3, "intersection_tolerance": 3}


def _dedupe(chars: list[dict]) -> list[dict]:
    """pdfplumber's ``dedupe_chars`` (default settings) without its quadratic final sort.

    Chars with the same text, orientation, font and size whose positions chain
    within 1pt (``doctop`` first, then ``x0``, as pdfplumber clusters them) are
    one char drawn twice (fake bold, shadows): the one nearest the top-left is
    kept.  The survivors keep their content-stream order.
    """
    groups: dict[tuple, list[tuple[float, float, int]]] = {}
    for i, c in enumerate(chars):
        key = (c["upright"], c["text"], c["fontname"], c["size"])
        groups.setdefault(key, []).append((c["doctop"], c["x0"], i))
    dropped: set[int] = set()
    for group in groups.values():
        if len(group) < 2:
            continue
        group.sort()
        for same_y in _chained(group, 0):
            if len(same_y) < 2:
                continue
            same_y.sort(key=lambda p: p[1])
            for same_xy in _chained(same_y, 1):
                if len(same_xy) > 1:
                    keep = min(same_xy)  # (doctop, x0, index): the top-left one, first drawn on a tie
                    dropped.update(i for _, _, i in same_xy if i != keep[2])
    return [c for i, c in enumerate(chars) if i not in dropped] if dropped else chars


def _chained(points: list[tuple[float, float, int]], axis: int,
             tolerance: float = 1.0) -> list[list[tuple[float, float, int]]]:
    """Points sorted on ``axis`` split where the gap to the previous one exceeds ``tolerance``."""
    runs = [[points[0]]]
    for prev, point in zip(points, points[1:]):
        if point[axis] > prev[axis] + tolerance:
            runs.append([point])
        else:
            runs[-1].append(point)
    return runs


def _assign_cells(chars: list[Char], tables: list) -> list[tuple[object, list, list[list[int]]]]:
    """Each ruled table (of at least two cells) with, for each of its cells, the indices
    of the chars whose centre lies inside the cell.  Edges count as inside, and a char
    goes to the first cell that holds it (tables in order, cells in order).

    Chars are indexed by the height of their centre, so a cell looks only at the chars
    in its own band of rows instead of at every char of the page."""
    if not tables:
        return []
    centres = sorted(((c.top + c.bottom) / 2, (c.x0 + c.x1) / 2, i) for i, c in enumerate(chars))
    ys = [cy for cy, _, _ in centres]
    used: set[int] = set()
    out = []
    for table in tables:
        cells = [cell for cell in table.cells if cell]
        if len(cells) < 2:
            continue  # a framed paragraph is prose
        per_cell = []
        for x0, top, x1, bottom in cells:
            band = centres[bisect_left(ys, top):bisect_right(ys, bottom)]
            inside = sorted(i for _, cx, i in band if x0 <= cx <= x1 and i not in used)
            used.update(inside)
            per_cell.append(inside)
        out.append((table, cells, per_cell))
    return out


def _layout_chars(page) -> tuple[list[dict], bool, int]:
    """The page's chars as pdfplumber's char dicts would give them (the keys we use:
    text, x0, x1, top, bottom, doctop, size, upright, fontname; and ``turned``: set at
    an angle, which pdfplumber does not tell), whether the page
    draws any line, rectangle or curve (ruling lines), and its count of images.

    Read straight from pdfminer's layout objects: pdfplumber's ``page.chars`` turns
    every object of the page into a dict of some thirty resolved attributes (colours,
    matrices, …), which costs about a quarter of the parse and which we do not use.
    The coordinates are computed exactly as pdfplumber computes them."""
    from pdfminer.layout import LTChar, LTContainer, LTCurve, LTImage
    from pdfplumber.page import fix_fontname_bytes

    mb_x0, mb_top = page.mediabox[:2]
    height, doctop = page.height, page.initial_doctop
    chars: list[dict] = []
    ruled = False
    images = 0
    stack = [iter(page.layout)]
    while stack:  # depth first, in drawing order (pdfplumber's order)
        for obj in stack[-1]:
            if isinstance(obj, LTChar):
                top = (height - obj.y1) + mb_top
                x0, x1 = (obj.x0 + mb_x0, obj.x1 + mb_x0) if mb_x0 != 0 else (obj.x0, obj.x1)
                fontname = obj.fontname
                if isinstance(fontname, bytes):  # rare byte-encoded font names
                    fontname = fix_fontname_bytes(fontname)
                a, b = obj.matrix[:2]
                chars.append({"text": obj.get_text(), "x0": x0, "x1": x1, "top": top,
                              "bottom": (height - obj.y0) + mb_top, "doctop": doctop + top,
                              "size": obj.size, "upright": obj.upright, "fontname": fontname,
                              # turned by more than a degree: pdfminer calls a 45° watermark
                              # upright (italics are slanted by the other term, c, and stay)
                              "turned": abs(b) > 0.02 * abs(a)})
            elif isinstance(obj, LTCurve):  # lines and rectangles are curves too
                ruled = True
            elif isinstance(obj, LTImage):
                images += 1
            if isinstance(obj, LTContainer):  # a figure: its content follows it
                stack.append(iter(obj))
                break
        else:
            stack.pop()
    return chars, ruled, images


def _read_page(page, number: int, offset: float) -> tuple[Page, int, int]:
    """One page's prose lines and ruled tables; also its count of (cid:…) chars and images."""
    width, height = float(page.width), float(page.height)
    raw, ruled, images = _layout_chars(page)
    chars: list[Char] = []
    undecoded = 0
    for c in _dedupe(raw):
        text = c["text"] or ""
        if not c["upright"] or c["turned"] or not text.strip() and text != " ":
            continue  # rotated text (watermarks, stamps) and control glyphs
        if text.startswith("(cid:"):
            undecoded += 1
            continue
        if c["x1"] < 0 or c["x0"] > width or c["bottom"] < 0 or c["top"] > height:
            continue
        chars.append(Char(text, float(c["x0"]), float(c["x1"]), float(c["top"]), float(c["bottom"]),
                          float(c["size"] or (c["bottom"] - c["top"])), number))
    # Ruled tables come from ruling lines only: a page without any has none.
    tables = page.find_tables(_TABLE_SETTINGS) if ruled else []
    return page_blocks(Page(number, width, height, offset), chars, tables), undecoded, images


def page_blocks(result: Page, chars: list[Char], tables: list) -> Page:
    """Fill ``result`` with its prose lines and ruled tables: ``chars`` in page
    coordinates (points, top-left origin), ``tables`` with ``.cells`` (x0, top, x1,
    bottom boxes) and ``.bbox`` like pdfplumber's.  The scan reader builds its pages here
    too, from recognised text and the ruling lines found in the image."""
    number, offset = result.number, result.offset
    used: set[int] = set()
    for table, cells, per_cell in _assign_cells(chars, tables):
        frag = TableFragment(number, *_box(table.bbox, offset))
        for (x0, top, x1, bottom), inside in zip(cells, per_cell):
            members = [chars[i] for i in inside]
            frag.cells.append(PdfCell(float(x0), float(x1), float(top) + offset, float(bottom) + offset,
                                      _cell_text(members), chars=_reading_order(members)))
            used.update(inside)
        result.blocks.append(frag)
    prose = [ch for i, ch in enumerate(chars) if i not in used] if used else chars
    for line in _group_lines(prose):
        segments = _segments(line)
        if not segments:
            continue
        size = Counter(round(c.size, 1) for c in line if c.text.strip()).most_common(1)
        result.blocks.append(Line(number, min(c.top for c in line) + offset,
                                  max(c.bottom for c in line) + offset, line[0].x0, line[-1].x1,
                                  size[0][0] if size else line[0].size, segments,
                                  trailing_space=line[-1].text == " ", chars=line))
    result.blocks.sort(key=lambda b: b.top)
    return result


def _reading_order(chars: list[Char]) -> list[Char]:
    """A cell's chars in the order ``_cell_text`` writes them."""
    return [ch for line in _group_lines(chars) for ch in line]


def _box(bbox, offset: float) -> tuple[float, float, float, float]:
    x0, top, x1, bottom = bbox
    return float(x0), float(x1), float(top) + offset, float(bottom) + offset


def _open_pages(data: bytes, meter: Meter) -> tuple[list[Page], list[int], int, dict[str, str]]:
    """Every page read from the text layer; the numbers of the pages that have none (a
    scanned image instead, read by OCR later); the count of chars without a Unicode
    mapping; the document's title."""
    import pdfplumber
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect

    try:
        pdf = pdfplumber.open(io.BytesIO(data))
    except Exception as exc:  # pdfplumber wraps every pdfminer failure
        cause = exc.args[0] if exc.args else exc
        if isinstance(cause, (PDFPasswordIncorrect, PDFEncryptionError)) or isinstance(
                exc, (PDFPasswordIncorrect, PDFEncryptionError)):
            raise ExtractionError("pdf_encrypted",
                                  "the PDF is encrypted and needs a password to open") from exc
        raise ExtractionError("pdf_corrupt", f"the PDF cannot be parsed: {cause!r}") from exc
    pages: list[Page] = []
    scanned: list[int] = []
    undecoded = 0
    info = getattr(pdf, "metadata", None) or {}
    # (its title only: a creation date is not the publication's)
    metadata = {"title": _decoded(info.get("Title")) or ""}
    try:
        with pdf:
            offset = 0.0
            for number, page in enumerate(pdf.pages, start=1):
                meter.add_page()
                read, bad, images = _read_page(page, number, offset)
                chars = _text_chars(read)
                if images and chars < _SCANNED_PAGE_CHARS and bad <= chars:
                    scanned.append(number)  # an image and (almost) no text: a scan
                undecoded += bad
                pages.append(read)
                offset += read.height
    except ExtractionError:
        raise
    except Exception as exc:  # a damaged object inside an otherwise readable file
        raise ExtractionError("pdf_corrupt", f"the PDF is damaged: {type(exc).__name__}: {exc}") from exc
    return pages, scanned, undecoded, metadata


def _text_chars(page: Page) -> int:
    """How many characters a page's lines and cells hold."""
    return sum(len(b.text) if isinstance(b, Line) else sum(len(c.text) for c in b.cells) for b in page.blocks)


#: A page with an image and fewer text-layer characters than this is read by OCR
#: (a scan often carries a page number or a stamp as text).
_SCANNED_PAGE_CHARS = 20


def _decoded(value: object) -> str | None:
    """A PDF metadata value as text (pdfminer gives bytes for some)."""
    if isinstance(value, bytes):
        for codec in ("utf-16", "utf-8", "latin-1"):
            try:
                return value.decode(codec).strip("\x00 ")
            except UnicodeDecodeError:
                continue
    return str(value) if value is not None else None


# --- page furniture -------------------------------------------------------------------

def _in_margin(line: Line, page: Page) -> bool:
    top = line.top - page.offset
    return top < _MARGIN_ZONE * page.height or top > (1 - _MARGIN_ZONE) * page.height


def _drop_page_furniture(pages: list[Page]) -> None:
    """Remove page numbers and running headers/footers."""
    def key(line: Line, page: Page) -> tuple[str, int]:
        band = _SCAN_SHIFT if page.scanned else 6  # (a scanned page moves on the glass)
        return re.sub(r"\d+", "#", re.sub(r"\s+", "", line.text)), round((line.top - page.offset) / band)

    seen: Counter = Counter()
    for page in pages:
        seen.update({key(b, page) for b in page.blocks if isinstance(b, Line) and _in_margin(b, page)})
    for page in pages:
        kept: list[Line | TableFragment] = []
        for b in page.blocks:
            if isinstance(b, Line) and _in_margin(b, page):
                if _PAGE_NUMBER.match(b.text.strip()) or (len(pages) > 1 and seen[key(b, page)] >= 2):
                    continue
            kept.append(b)
        page.blocks = kept


# --- tables ---------------------------------------------------------------------------

def _row_texts(frag: TableFragment) -> list[tuple[float, tuple[str, ...]]]:
    """The fragment's rows (by cell top) with the texts of the cells starting there."""
    rows: dict[float, list[PdfCell]] = {}
    for cell in frag.cells:
        key = next((t for t in rows if abs(t - cell.top) < 2), cell.top)
        rows.setdefault(key, []).append(cell)
    return [(top, tuple(c.text for c in sorted(cells, key=lambda c: c.x0)))
            for top, cells in sorted(rows.items())]


def _continue_table(first: TableFragment, second: TableFragment) -> None:
    """Append a continuation fragment, without the header rows it repeats."""
    first_rows, second_rows = _row_texts(first), _row_texts(second)
    repeated = 0
    while (repeated < min(len(first_rows), len(second_rows) - 1)
           and first_rows[repeated][1] == second_rows[repeated][1] and any(first_rows[repeated][1])):
        repeated += 1
    cut = second_rows[repeated][0] - 1 if repeated else float("-inf")
    kept = [c for c in second.cells if c.top >= cut]
    if not kept:
        return
    # Close the gap of the page break so that no phantom row sits between the parts.
    delta = first.bottom - min(c.top for c in kept)
    for c in kept:
        c.top += delta
        c.bottom += delta
    # A merged cell cut by the page break continues as an empty box on the new page:
    # make it one cell again.  Only multi-row cells qualify (rows themselves rarely split).
    heights = sorted(c.bottom - c.top for c in first.cells + kept)
    row_height = heights[len(heights) // 2] if heights else 0.0
    for cont in [c for c in kept if abs(c.top - first.bottom) < 2 and not c.text]:
        above = next((c for c in first.cells if abs(c.bottom - first.bottom) < 2 and c.text
                      and abs(c.x0 - cont.x0) < 2 and abs(c.x1 - cont.x1) < 2), None)
        if above is not None and max(above.bottom - above.top, cont.bottom - cont.top) > 1.5 * row_height:
            above.bottom = cont.bottom
            kept.remove(cont)
    first.cells.extend(kept)
    first.bottom = max(c.bottom for c in first.cells)


#: How far (points) a scanned page's table may sit off the previous page's and still
#: continue it: a page moves a few millimetres on the scanner's glass.
_SCAN_SHIFT = 15.0


def _aligned(fragment: TableFragment, to: TableFragment) -> None:
    """Move and stretch a scanned fragment's cells so that its edges are ``to``'s."""
    scale = (to.x1 - to.x0) / max(1e-6, fragment.x1 - fragment.x0)
    for cell in fragment.cells:
        cell.x0 = to.x0 + (cell.x0 - fragment.x0) * scale
        cell.x1 = to.x0 + (cell.x1 - fragment.x0) * scale
    fragment.x0, fragment.x1 = to.x0, to.x1


def _merge_page_breaks(pages: list[Page]) -> list[Line | TableFragment]:
    blocks: list[Line | TableFragment] = []
    for page in pages:
        tolerance = _SCAN_SHIFT if page.scanned else 3
        for i, b in enumerate(page.blocks):
            prev = blocks[-1] if blocks else None
            if (i == 0 and isinstance(b, TableFragment) and isinstance(prev, TableFragment)
                    and prev.page == b.page - 1 and abs(prev.x0 - b.x0) < tolerance
                    and abs(prev.x1 - b.x1) < tolerance):
                if page.scanned:
                    _aligned(b, prev)
                _continue_table(prev, b)
                prev.page = b.page
                continue
            blocks.append(b)
    return blocks


def _cluster(values: list[float], tolerance: float = 2.0) -> list[float]:
    out: list[float] = []
    for v in sorted(values):
        if not out or v - out[-1] > tolerance:
            out.append(v)
    return out


def _index(edges: list[float], v: float) -> int:
    """The index of the edge nearest ``v`` (the lower one on a tie); ``edges`` ascend."""
    i = bisect_left(edges, v)
    if i == 0:
        return 0
    if i == len(edges) or abs(edges[i - 1] - v) <= abs(edges[i] - v):
        return i - 1
    return i


def _grid(frag: TableFragment) -> Grid:
    xs = _cluster([c.x0 for c in frag.cells] + [c.x1 for c in frag.cells])
    ys = _cluster([c.top for c in frag.cells] + [c.bottom for c in frag.cells])
    spans = []
    for cell in sorted(frag.cells, key=lambda c: (c.top, c.x0)):
        r0, r1 = _index(ys, cell.top), _index(ys, cell.bottom)
        c0, c1 = _index(xs, cell.x0), _index(xs, cell.x1)
        if r1 > r0 and c1 > c0:
            spans.append((r0, c0, r1 - r0, c1 - c0, cell.text))
    return Grid.from_spans(spans)


# --- prose ----------------------------------------------------------------------------

def _margins(lines: list[Line]) -> tuple[float, float]:
    """Left margin (most common line start) and right margin (where full lines end)."""
    starts = Counter(round(line.x0) for line in lines if len(line.segments) == 1)
    ends = sorted(line.x1 for line in lines if len(line.segments) == 1)
    if not starts or not ends:
        return 0.0, 0.0
    return float(starts.most_common(1)[0][0]), ends[int(0.9 * (len(ends) - 1))]


def _continues(a: Line, b: Line, left: float, right: float, page_center: float) -> bool:
    """Whether line ``b`` continues the paragraph of line ``a``."""
    if len(a.segments) != 1 or len(b.segments) != 1 or abs(a.size - b.size) > 0.6:
        return False
    size = max(a.size, 1.0)
    if a.page == b.page and b.top - a.bottom > 0.8 * size:
        return False  # paragraph spacing
    last = a.text.rstrip()[-1:]
    if last in _SENTENCE_END:
        return False
    full = a.x1 >= right - 1.5 * size
    if full and b.x0 <= left + 0.8 * size:
        return True
    # A wrapped centred title: both lines centred, the first nearly full.
    centred = all(abs((x.x0 + x.x1) / 2 - page_center) < size for x in (a, b))
    return a.page == b.page and centred and (a.x1 - a.x0) >= 0.6 * (right - left)


def _join(lines: list[Line]) -> str:
    """A paragraph's lines as running text (a space only where the source had one)."""
    out = ""
    for i, line in enumerate(lines):
        text = line.text.strip()
        if i and (lines[i - 1].trailing_space or join_wrapped([out[-1:], text[:1]]) != out[-1:] + text[:1]):
            out += " "
        out += text
    return out


#: A ruled cell holding more text than this is prose in a frame (a web page printed to
#: PDF frames its whole body): as HTML's layout tables (``html._is_layout_table``).
LAYOUT_CELL_CHARS = 400


def _layout_parts(frag: TableFragment) -> list[TableFragment | str]:
    """A ruled table as it should be read: its cells of prose as paragraphs, a cell
    holding rows whose rules were not drawn as those rows, the runs of cells between
    them as tables, in reading order (top, then left)."""
    cells = sorted(frag.cells, key=lambda c: (round(c.top), c.x0))
    if all(len(c.text) <= LAYOUT_CELL_CHARS and c.text.count("\n") < 2 for c in cells):
        return [frag]
    parts: list[TableFragment | str] = []
    run: list[PdfCell] = []
    for cell in cells + [None]:
        rows = _rows_inside(cell) if cell is not None else None
        if cell is None or len(cell.text) > LAYOUT_CELL_CHARS or rows:
            if run:
                parts.append(TableFragment(frag.page, min(c.x0 for c in run), max(c.x1 for c in run),
                                           min(c.top for c in run), max(c.bottom for c in run), run))
            run = []
            if cell is not None:
                parts.append(rows or cell.text)
        else:
            run.append(cell)
    return parts


def _rows_inside(cell: PdfCell) -> str | None:
    """A cell that holds rows of a table whose rules the PDF did not draw (label, then
    figures set apart, line after line): those lines, tab-separated, else None."""
    if not cell.chars or cell.text.count("\n") < 2:
        return None
    lines = [_segments(line) for line in _group_lines(cell.chars)]
    rows = [segments for segments in lines if len(segments) >= 2 and _FIGURE.fullmatch(segments[-1])]
    if len(rows) < 3 or 3 * len(rows) < len(lines):  # (wrapped labels add lines of their own)
        return None
    return "\n".join("\t".join(segments) for segments in lines)


_FIGURE = re.compile(r"[\d.,，%％]+(?: [\d.,，%％]+)*")


def _render(blocks: list[Line | TableFragment], builder: DocumentBuilder, page_center: float) -> None:
    lines = [b for b in blocks if isinstance(b, Line)]
    left, right = _margins(lines)
    paragraph: list[Line] = []
    for b in blocks:
        if isinstance(b, TableFragment):
            if paragraph:
                builder.paragraph(_join(paragraph))
            paragraph = []
            for part in _layout_parts(b):
                if isinstance(part, str):
                    builder.paragraph(part)
                else:
                    builder.table(_grid(part))
            continue
        if paragraph and _continues(paragraph[-1], b, left, right, page_center):
            paragraph.append(b)
        else:
            if paragraph:
                builder.paragraph(_join(paragraph))
            paragraph = [b]
    if paragraph:
        builder.paragraph(_join(paragraph))


def read(data: bytes, meter: Meter | None = None) -> Document:
    meter = meter or DEFAULT.meter()
    if b"%%EOF" not in data[-2048:]:
        raise ExtractionError("pdf_corrupt", "the PDF is truncated (no end-of-file marker)")
    pages, scanned, undecoded, metadata = _open_pages(data, meter)
    if not pages:
        raise ExtractionError("pdf_corrupt", "the PDF has no pages")
    warnings = []
    if scanned:
        from service.ingest import scan

        pages = scan.read_scanned_pages(data, pages, scanned, meter)
        warnings.append(f"{len(scanned)} of {len(pages)} pages were read by OCR (no text layer)")
    n_chars = sum(_text_chars(page) for page in pages)
    if n_chars == 0 or undecoded > n_chars:
        what = ("its fonts carry no Unicode mapping" if undecoded
                else "the scan is blank: OCR found no text" if scanned else "it holds no text")
        raise ExtractionError("blank_scan" if scanned and not undecoded else "pdf_no_text_layer",
                              f"the PDF has no readable text ({what})")
    builder = DocumentBuilder("pdf", meter)
    builder.metadata.update(metadata)
    builder.warnings.extend(warnings)
    if undecoded:
        builder.warnings.append(f"{undecoded} characters without a Unicode mapping were skipped")
    return document_from_pages(pages, builder)


def document_from_pages(pages: list[Page], builder: DocumentBuilder) -> Document:
    """Read pages into a document: furniture dropped, tables joined over page breaks,
    prose re-joined, and each character tied to its page and box (``Document.glyphs``)."""
    _drop_page_furniture(pages)
    blocks = _merge_page_breaks(pages)
    _render(blocks, builder, pages[0].width / 2)
    doc = builder.build()
    doc.glyphs = glyph_map(doc.text, blocks)
    return doc


def glyph_map(text: str, blocks: list[Line | TableFragment]) -> dict[int, Glyph]:
    """Each character of ``text`` -> its ``Glyph``: page and box, and for a scanned
    page the reading's confidence and runner-up.

    The rendered text writes the blocks' characters in this same order (lines left
    to right; a table's cells row by row, each cell's lines top to bottom) and adds
    only whitespace, so the two are walked side by side; where they ever differ the
    walk re-synchronises on the next few characters rather than guess."""
    source: list[tuple[str, Glyph]] = []
    for block in blocks:
        if isinstance(block, Line):
            runs = [block.chars]
        else:
            runs = [cell.chars for cell in sorted(block.cells, key=lambda c: (round(c.top), c.x0))]
        for run in runs:
            for ch in run:
                read = getattr(ch, "glyphs", None)  # a scan's (scan.ScanChar): one per character
                if read is not None:
                    chars = [c for c in ch.text if not c.isspace()]
                    if len(chars) == len(read):
                        source.extend(zip(chars, read))
                        continue
                if not ch.text.isspace():  # a text layer's character
                    glyph = Glyph(ch.page, (round(ch.x0, 1), round(ch.top, 1), round(ch.x1, 1), round(ch.bottom, 1)))
                    source.extend((c, glyph) for c in ch.text if not c.isspace())
    out: dict[int, Glyph] = {}
    j = 0
    for i, c in enumerate(text):
        if c.isspace() or j >= len(source):
            continue
        if source[j][0] != c:
            ahead = next((d for d in range(1, 8) if j + d < len(source) and source[j + d][0] == c), None)
            if ahead is None:
                continue
            j += ahead
        glyph = source[j][1]
        if glyph is not None:
            out[i] = glyph
        j += 1
    return out
