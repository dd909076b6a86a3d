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

A PDF without a text layer (a scan) is refused: OCR is not supported.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass, field

from service.ingest.render import DocumentBuilder, Grid, is_wide, join_wrapped
from service.types import Document, ExtractionError

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
    top: float
    bottom: float
    size: float


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


def _inside(ch: Char, box: tuple[float, float, float, float]) -> bool:
    x0, top, x1, bottom = box
    cx, cy = (ch.x0 + ch.x1) / 2, (ch.top + ch.bottom) / 2
    return x0 <= cx <= x1 and top <= cy <= bottom


def _read_page(page, number: int, offset: float) -> tuple[Page, int, int]:
    """One page's prose lines and ruled tables; also its count of (cid:…) chars and images."""
    page = page.dedupe_chars()
    width, height = float(page.width), float(page.height)
    chars: list[Char] = []
    undecoded = 0
    for c in page.chars:
        text = c.get("text") or ""
        if not c.get("upright", True) or not text.strip() and text != " ":
            continue  # rotated text (watermarks, stamps) and control glyphs
        if text.startswith("(cid:"):
            undecoded += 1
            continue
        if c["x1"] < 0 or c["x0"] > width or c["bottom"] < 0 or c["top"] > height:
            continue
        chars.append(Char(text, float(c["x0"]), float(c["x1"]), float(c["top"]), float(c["bottom"]),
                          float(c.get("size") or (c["bottom"] - c["top"]))))
    result = Page(number, width, height, offset)
    used: set[int] = set()
    for table in page.find_tables(_TABLE_SETTINGS):
        cells = [cell for cell in table.cells if cell]
        if len(cells) < 2:
            continue  # a framed paragraph is prose
        frag = TableFragment(number, *_box(table.bbox, offset))
        for box in cells:
            inside = [i for i, ch in enumerate(chars) if i not in used and _inside(ch, box)]
            used.update(inside)
            x0, top, x1, bottom = box
            frag.cells.append(PdfCell(float(x0), float(x1), float(top) + offset, float(bottom) + offset,
                                      _cell_text([chars[i] for i in inside])))
        result.blocks.append(frag)
    prose = [ch for i, ch in enumerate(chars) if i not in used]
    for line in _group_lines(prose):
        segments = _segments(line)
        if not segments:
            continue
        size = Counter(round(c.size, 1) for c in line if c.text.strip()).most_common(1)
        result.blocks.append(Line(number, min(c.top for c in line) + offset,
                                  max(c.bottom for c in line) + offset, line[0].x0, line[-1].x1,
                                  size[0][0] if size else line[0].size, segments,
                                  trailing_space=line[-1].text == " "))
    result.blocks.sort(key=lambda b: b.top)
    return result, undecoded, len(page.images)


def _box(bbox, offset: float) -> tuple[float, float, float, float]:
    x0, top, x1, bottom = bbox
    return float(x0), float(x1), float(top) + offset, float(bottom) + offset


def _open_pages(data: bytes) -> tuple[list[Page], int, int, int]:
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
    undecoded = images = chars = 0
    try:
        with pdf:
            offset = 0.0
            for number, page in enumerate(pdf.pages, start=1):
                read, bad, imgs = _read_page(page, number, offset)
                pages.append(read)
                undecoded += bad
                images += imgs
                chars += sum(len(b.text) if isinstance(b, Line) else sum(len(c.text) for c in b.cells)
                             for b in read.blocks)
                offset += read.height
    except ExtractionError:
        raise
    except Exception as exc:  # a damaged object inside an otherwise readable file
        raise ExtractionError("pdf_corrupt", f"the PDF is damaged: {type(exc).__name__}: {exc}") from exc
    return pages, chars, undecoded, images


# --- page furniture -------------------------------------------------------------------

def _in_margin(line: Line, page: Page) -> bool:
    top = line.top - page.offset
    return top < _MARGIN_ZONE * page.height or top > (1 - _MARGIN_ZONE) * page.height


def _drop_page_furniture(pages: list[Page]) -> None:
    """Remove page numbers and running headers/footers."""
    def key(line: Line, page: Page) -> tuple[str, int]:
        return re.sub(r"\d+", "#", re.sub(r"\s+", "", line.text)), round((line.top - page.offset) / 6)

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


def _merge_page_breaks(pages: list[Page]) -> list[Line | TableFragment]:
    blocks: list[Line | TableFragment] = []
    for page in pages:
        for i, b in enumerate(page.blocks):
            prev = blocks[-1] if blocks else None
            if (i == 0 and isinstance(b, TableFragment) and isinstance(prev, TableFragment)
                    and prev.page == b.page - 1 and abs(prev.x0 - b.x0) < 3 and abs(prev.x1 - b.x1) < 3):
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
    return min(range(len(edges)), key=lambda i: abs(edges[i] - v))


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


def _render(blocks: list[Line | TableFragment], builder: DocumentBuilder, page_center: float) -> None:
    lines = [b for b in blocks if isinstance(b, Line)]
    left, right = _margins(lines)
    paragraph: list[Line] = []
    for b in blocks:
        if isinstance(b, TableFragment):
            if paragraph:
                builder.paragraph(_join(paragraph))
            paragraph = []
            builder.table(_grid(b))
            continue
        if paragraph and _continues(paragraph[-1], b, left, right, page_center):
            paragraph.append(b)
        else:
            if paragraph:
                builder.paragraph(_join(paragraph))
            paragraph = [b]
    if paragraph:
        builder.paragraph(_join(paragraph))


def read(data: bytes) -> Document:
    if b"%%EOF" not in data[-2048:]:
        raise ExtractionError("pdf_corrupt", "the PDF is truncated (no end-of-file marker)")
    pages, n_chars, undecoded, images = _open_pages(data)
    if not pages:
        raise ExtractionError("pdf_corrupt", "the PDF has no pages")
    if n_chars == 0 or undecoded > n_chars:
        what = ("its fonts carry no Unicode mapping" if undecoded
                else "it is a scanned image" if images else "it holds no text")
        raise ExtractionError("pdf_no_text_layer",
                              f"the PDF has no usable text layer ({what}); OCR is not supported")
    _drop_page_furniture(pages)
    blocks = _merge_page_breaks(pages)
    builder = DocumentBuilder("pdf")
    if undecoded:
        builder.warnings.append(f"{undecoded} characters without a Unicode mapping were skipped")
    _render(blocks, builder, pages[0].width / 2)
    return builder.build()
