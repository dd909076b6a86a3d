"""Scanned pages (图片版): a page image into the same prose lines and ruled tables a
PDF's text layer gives (``service.ingest.pdf.Page``), so that nothing after ingestion
knows the text came from OCR.

For each page, one at a time (memory stays at one page image):

1. the page is deskewed: the angle (within ±2.5°) that makes the rows of ink
   sharpest in a horizontal projection;
2. ruling lines are found by morphology (long thin runs of ink), and the table
   cells they enclose by pdfplumber's own edges → intersections → cells → tables
   code, the one the text-layer reader uses on vector lines;
3. text boxes are detected once; a box that crosses a cell border is cut at it
   (a ruling line read as ``1`` or ``一`` would corrupt a figure), and a cell with ink
   but no box (a lone ``0`` the detector missed) is read from its own crop;
4. every piece is recognised (``service.ingest.ocr``) and becomes a ``ScanChar`` —
   a run of text with page coordinates in points — which ``pdf.page_blocks`` puts
   into cells and lines exactly as it does with a text layer's characters.

``pdf.glyph_map`` then ties every character of the rendered text to its page, box,
confidence and runner-up reading (``Document.glyphs``).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from service.ingest import ocr
from service.ingest.pdf import Char, Page, page_blocks
from service.types import ExtractionError, Glyph

#: Resolution PDF pages are rendered at.
RENDER_DPI = 200
#: Largest page side, pixels, OCR works at (bigger images are scaled down to it).
MAX_SIDE = 2400
#: Largest image accepted, pixels (a decompression bomb is refused before decoding).
MAX_PIXELS = 60_000_000
#: A4 width in points: the width an image page is given when it tells no resolution.
_A4_WIDTH_PT = 595.0
_MAX_SKEW = 2.5


@dataclass
class ScanChar(Char):
    """A run of recognised text (one box, or the part of it inside one cell)."""

    #: Per character: its box in source units and its reading.
    glyphs: list[Glyph] = field(default_factory=list, repr=False)


@dataclass
class PageImage:
    """One page to read: a grey image and how its pixels map to points and to the
    source's own units (PDF points, or the uploaded image's pixels)."""

    gray: np.ndarray
    points_per_px: float
    source_per_px: float


# --- geometry ---------------------------------------------------------------------------

def _ink(gray: np.ndarray) -> np.ndarray:
    """Dark pixels (Otsu's threshold) as 255 on 0."""
    import cv2

    _, inv = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    return inv


def deskew(gray: np.ndarray) -> tuple[np.ndarray, float]:
    """The page turned upright, and the angle (degrees) it was turned by."""
    import cv2

    factor = 600.0 / max(gray.shape)
    small = _ink(cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA))
    h, w = small.shape
    best, best_score = 0.0, -1.0
    for step in range(-int(_MAX_SKEW * 10), int(_MAX_SKEW * 10) + 1):
        angle = step / 10
        turned = cv2.warpAffine(small, cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0), (w, h))
        profile = turned.sum(axis=1, dtype=np.float64)
        score = float(np.square(np.diff(profile)).sum())
        if score > best_score:
            best, best_score = angle, score
    if abs(best) < 0.05:
        return gray, 0.0
    h, w = gray.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), best, 1.0)
    return cv2.warpAffine(gray, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=255), best


@dataclass
class _Table:
    """pdfplumber's Table shape: ``cells`` and ``bbox`` (x0, top, x1, bottom)."""

    cells: list[tuple[float, float, float, float]]

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        return (min(c[0] for c in self.cells), min(c[1] for c in self.cells),
                max(c[2] for c in self.cells), max(c[3] for c in self.cells))


def ruled_tables(ink: np.ndarray, dpi: float, boxes: list[tuple[int, int, int, int]]) -> list[_Table]:
    """The tables the ruling lines of a page enclose (pixel coordinates).

    A horizontal rule is a run of ink far longer than a character.  A vertical one
    must join two horizontal rules, end to end, and be taller than a line of text
    or stand outside the text ``boxes`` detected on the page: text set tight in a
    cell has strokes that nearly join the rules above and below it."""
    import cv2
    from pdfplumber.table import cells_to_tables, edges_to_intersections, intersections_to_cells, merge_edges

    long_run = max(20, int(dpi * 0.35))
    short_run = max(8, int(dpi * 0.06))
    thick = max(4, int(dpi * 0.03))
    horizontal = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (long_run, 1)))
    vertical = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (1, 3)))
    vertical = cv2.morphologyEx(vertical, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, short_run)))
    edges: list[dict] = []
    h_lines = []
    for cx, y, w, h, _ in _components(horizontal):
        x = int(round(cx - w / 2))
        if w >= long_run and h <= 2 * thick:
            top = y + h / 2
            h_lines.append((x, x + w, y, y + h))
            edges.append({"x0": x, "x1": x + w, "top": top, "bottom": top, "width": w, "height": 0,
                          "orientation": "h", "object_type": "line"})
    if not h_lines:
        return []
    # (a rule that ends at another runs into its ink; a stroke of text stops short of it)
    reach = 2 + thick // 4

    def joins(cx: float, y: float) -> bool:
        return any(x0 - reach <= cx <= x1 + reach and y0 - reach <= y <= y1 + reach
                   for x0, x1, y0, y1 in h_lines)

    heights = sorted(y1 - y0 for _, y0, _, y1 in boxes)
    text_height = heights[len(heights) // 2] if heights else dpi / 6
    candidates = [(cx, y, y + h) for cx, y, w, h, mean_width in _components(vertical)
                  if (w <= thick or mean_width <= 0.75 * thick and h >= 3 * text_height) and h >= short_run]

    def in_text(cx: float, top: float, bottom: float) -> bool:
        middle = (top + bottom) / 2
        return any(x0 - 1 <= cx <= x1 + 1 and y0 <= middle <= y1 for x0, y0, x1, y1 in boxes)

    def crosses(cx: float, top: float, bottom: float) -> bool:
        return any(x0 - reach <= cx <= x1 + reach and top - reach <= y0 and y1 <= bottom + reach
                   for x0, x1, y0, y1 in h_lines)

    def share_in_text(cx: float, top: float, bottom: float) -> float:
        inside = sum(max(0, min(bottom, y1) - max(top, y0)) for x0, y0, x1, y1 in boxes if x0 + 2 < cx < x1 - 2)
        return inside / max(1.0, bottom - top)

    # Taller than two lines of text: a rule (perhaps broken by compression) wherever it
    # meets a horizontal one, unless it runs mostly through text (strokes of tight rows
    # chained through the rules between them).  Shorter: it must join two rules, and
    # lie outside the text.
    tall = [(cx, top, bottom) for cx, top, bottom in candidates
            if bottom - top >= 1.6 * text_height and crosses(cx, top, bottom)
            and share_in_text(cx, top, bottom) < 0.5]
    joined = [(cx, top, bottom) for cx, top, bottom in candidates
              if bottom - top < 1.6 * text_height and joins(cx, top) and joins(cx, bottom)]
    sure = tall + [(cx, top, bottom) for cx, top, bottom in joined if not in_text(cx, top, bottom)]
    for cx, top, bottom in tall + joined:
        # (a short piece inside a text box that crossed it still counts when it continues
        # a sure rule of the same column, just above or below it)
        if any(abs(cx - x) <= reach and (top - reach <= sbottom and stop <= bottom + reach)
               for x, stop, sbottom in sure):
            edges.append({"x0": cx, "x1": cx, "top": top, "bottom": bottom, "width": 0,
                          "height": bottom - top, "orientation": "v", "object_type": "line"})
    if not any(e["orientation"] == "v" for e in edges):
        return []
    tolerance = thick + 2
    edges = merge_edges(edges, tolerance, tolerance, tolerance, tolerance)
    cells = intersections_to_cells(edges_to_intersections(edges, tolerance, tolerance))
    return [_Table(list(t)) for t in cells_to_tables(cells) if len(t) >= 2]


def _components(mask: np.ndarray) -> list[tuple[float, int, int, int, float]]:
    """Connected runs of a mask: (centre x, top, width, height, mean width); the mean
    width (pixels / height) tells a long rule with a stroke of text touching it from a
    blob of text."""
    import cv2

    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    return [(stats[i, 0] + stats[i, 2] / 2, int(stats[i, 1]), int(stats[i, 2]), int(stats[i, 3]),
             float(stats[i, 4]) / max(1, int(stats[i, 3]))) for i in range(1, count)]


def _text_pieces(boxes: list[tuple[int, int, int, int]], tables: list[_Table], ink: np.ndarray,
                 margin: int) -> list[tuple[tuple[int, int, int, int], int | None]]:
    """The crops to read, each with the index of the cell it lies in (None outside
    tables): detected boxes, cut at the borders of the cells they cross (slivers of a
    box over a border are dropped), plus the ink of cells no box reached."""
    cells = [c for t in tables for c in t.cells]
    pieces: list[tuple[tuple[int, int, int, int], int | None]] = []
    reached: set[int] = set()
    min_ink = max(8, int(margin * margin))
    for x0, y0, x1, y1 in boxes:
        inside = []
        for i, (cx0, ctop, cx1, cbottom) in enumerate(cells):
            ix0, iy0 = max(x0, int(cx0) + margin), max(y0, int(ctop) + margin)
            ix1, iy1 = min(x1, int(cx1) - margin), min(y1, int(cbottom) - margin)
            # (at least half a character wide, and half the box high)
            if ix1 - ix0 >= max(4, (y1 - y0) // 2) and iy1 - iy0 >= max(6, (y1 - y0) // 2):
                inside.append((i, (ix0, iy0, ix1, iy1)))
        if not inside:
            pieces.append(((x0, y0, x1, y1), None))
            continue
        for i, piece in inside:
            px0, py0, px1, py1 = piece
            if int(ink[py0:py1, px0:px1].sum() // 255) >= min_ink:
                pieces.append((piece, i))
                reached.add(i)
    for i in range(len(cells)):
        if i not in reached:
            crop = cell_ink(cells[i], ink, margin)
            if crop:
                pieces.append((crop, i))
    return pieces


def cell_ink(cell: tuple[float, float, float, float], ink: np.ndarray,
             margin: int) -> tuple[int, int, int, int] | None:
    """The box around the ink inside a cell (its rules left out), None for a blank cell."""
    cx0, ctop, cx1, cbottom = cell
    x0, y0, x1, y1 = int(cx0) + margin, int(ctop) + margin, int(cx1) - margin, int(cbottom) - margin
    if x1 - x0 < 4 or y1 - y0 < 6:
        return None
    region = ink[y0:y1, x0:x1].copy()
    # (what is left of a rule, thickened by blur or off by a degree, runs the whole cell)
    region[(region > 0).mean(axis=1) > 0.7, :] = 0
    region[:, (region > 0).mean(axis=0) > 0.7] = 0
    if int(region.sum() // 255) < max(8, margin * margin):
        return None
    ys, xs = np.nonzero(region)
    return (max(x0, x0 + int(xs.min()) - margin), max(y0, y0 + int(ys.min()) - margin),
            min(x1, x0 + int(xs.max()) + 1 + margin), min(y1, y0 + int(ys.max()) + 1 + margin))


def _missed_in_columns(boxes: list[tuple[int, int, int, int]], ink: np.ndarray,
                       margin: int) -> list[tuple[int, int, int, int]]:
    """Figures of a table without rules that the detector missed: where short boxes
    (figures) stand in columns over several rows, a row's ink in a column it has no box
    in is read too (a lone ``0`` is what the detector misses most)."""
    short = [b for b in boxes if (b[2] - b[0]) <= 2.5 * (b[3] - b[1])]
    if len(short) < 8:
        return []
    height = sorted(b[3] - b[1] for b in short)[len(short) // 2]
    columns: list[list[tuple[int, int, int, int]]] = []
    for box in sorted(short, key=lambda b: (b[0] + b[2]) / 2):
        centre = (box[0] + box[2]) / 2
        if columns and centre - (columns[-1][-1][0] + columns[-1][-1][2]) / 2 <= height / 2:
            columns[-1].append(box)
        else:
            columns.append([box])
    columns = [c for c in columns if len(c) >= 4]
    rows: list[list[tuple[int, int, int, int]]] = []
    for box in sorted((b for c in columns for b in c), key=lambda b: (b[1] + b[3]) / 2):
        middle = (box[1] + box[3]) / 2
        if rows and middle - (rows[-1][0][1] + rows[-1][0][3]) / 2 <= height / 2:
            rows[-1].append(box)
        else:
            rows.append([box])
    found = []
    min_ink = max(8, margin * margin)
    for row in rows:
        if len(row) < 2:
            continue
        top, bottom = min(b[1] for b in row), max(b[3] for b in row)
        for column in columns:
            x0, x1 = min(b[0] for b in column), max(b[2] for b in column)
            if any(b[0] < x1 and b[2] > x0 and b[1] < bottom and b[3] > top for b in boxes):
                continue  # the row has a box there
            region = ink[top:bottom, x0:x1]
            if int(region.sum() // 255) < min_ink:
                continue
            ys, xs = np.nonzero(region)
            found.append((max(0, x0 + int(xs.min()) - margin), max(0, top + int(ys.min()) - margin),
                          x0 + int(xs.max()) + 1 + margin, top + int(ys.max()) + 1 + margin))
    return found


# --- a page -------------------------------------------------------------------------------

#: Letters the recogniser reads for a digit it saw in a run of figures.
_DIGIT_LOOKALIKES = {"o": "0", "O": "0", "〇": "0", "D": "0", "l": "1", "I": "1", "|": "1", "丨": "1",
                     "S": "5", "B": "8", "Z": "2"}


def _lookalike_confidence(c: ocr.CharReading) -> float:
    digit = _DIGIT_LOOKALIKES[c.char]
    if c.alternative.isdigit() and c.alternative != digit:
        return min(c.confidence, 0.5)  # e.g. 'B' over '3': which digit is not clear
    return c.confidence


def _words(chars: list[ocr.CharReading]) -> list[list[ocr.CharReading]]:
    """A reading cut at its spaces."""
    words: list[list[ocr.CharReading]] = [[]]
    for c in chars:
        if c.char.isspace():
            if words[-1]:
                words.append([])
        else:
            words[-1].append(c)
    return [w for w in words if w]


def _cleaned(chars: list[ocr.CharReading]) -> list[ocr.CharReading]:
    """A reading as text is written: no space the recogniser heard in a gap except
    between two Latin letters or two figures, and in a run that is otherwise figures
    (a table cell) a look-alike letter read as the digit it resembles (a lone ``0`` is
    often read ``o``); its confidence is kept unless the runner-up was another digit."""
    kept = []
    for i, c in enumerate(chars):
        if c.char.isspace():
            before, after = chars[i - 1].char if i else "", chars[i + 1].char if i + 1 < len(chars) else ""
            if not (before.isascii() and after.isascii() and before.isalnum() and after.isalnum()):
                continue
        kept.append(c)
    body = [c.char for c in kept if not c.char.isspace()]
    figures = sum(ch.isdigit() or ch in ".,%" for ch in body)
    lookalikes = sum(ch in _DIGIT_LOOKALIKES for ch in body)
    if lookalikes and figures + lookalikes == len(body):
        kept = [ocr.CharReading(_DIGIT_LOOKALIKES[c.char], _lookalike_confidence(c), c.alternative,
                                c.alternative_confidence, c.x0, c.x1)
                if c.char in _DIGIT_LOOKALIKES else c for c in kept]
    if figures + lookalikes == len(body):
        kept = [_same_digit_merged(c) for c in kept]
    return kept


def _same_digit_merged(c: ocr.CharReading) -> ocr.CharReading:
    """A digit whose runner-up is the same digit in another shape ('0' over 'o') is as
    sure as the two together, and has no other reading."""
    if c.char.isdigit() and (c.alternative == c.char or _DIGIT_LOOKALIKES.get(c.alternative) == c.char):
        return ocr.CharReading(c.char, min(1.0, c.confidence + c.alternative_confidence), "", 0.0, c.x0, c.x1)
    return c


def scan_page(image: PageImage, number: int, offset: float) -> Page:
    """One page image read into prose lines and ruled tables (points, like a PDF page)."""
    engine = ocr.engine()  # first: where OCR cannot run, say so before anything else
    import cv2

    gray, _ = deskew(image.gray)
    ink = _ink(gray)
    k = image.points_per_px
    dpi = 72.0 / k
    colour = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    boxes = engine.detect(colour, scale=min(1.0, ocr.DETECT_DPI / dpi))
    tables = ruled_tables(ink, dpi, boxes)
    margin = max(2, int(dpi * 0.015))
    placed = _text_pieces(boxes, tables, ink, margin)
    if not tables:
        placed += [(piece, None) for piece in _missed_in_columns(boxes, ink, margin)]
    pieces = [piece for piece, _ in placed]
    readings = [_cleaned(r.chars) for r in engine.recognise([colour[y0:y1, x0:x1] for x0, y0, x1, y1 in pieces])]
    # A cell whose pieces all read as nothing (a box cut badly) is read whole once more.
    cells = [c for t in tables for c in t.cells]
    read_cells = {cell for (_, cell), read in zip(placed, readings) if cell is not None and read}
    again = [(cell, crop) for cell in sorted({c for _, c in placed if c is not None} - read_cells)
             if (crop := cell_ink(cells[cell], ink, margin)) and crop not in pieces]
    if again:
        pieces += [crop for _, crop in again]
        readings += [_cleaned(r.chars)
                     for r in engine.recognise([colour[y0:y1, x0:x1] for _, (x0, y0, x1, y1) in again])]
    chars: list[Char] = []
    s = image.source_per_px
    for (x0, y0, x1, y1), read in zip(pieces, readings):
        if not read or max(c.confidence for c in read) < 0.3:
            continue
        height = (y1 - y0) * k
        # Words the recogniser heard apart (figures of a table without rules that one
        # box took in together) are placed apart, each where it stands.
        for word in _words(read):
            glyphs = [Glyph(number, (round((x0 + c.x0) * s, 1), round(y0 * s, 1), round((x0 + c.x1) * s, 1),
                                     round(y1 * s, 1)),
                            round(c.confidence, 4), c.alternative, round(c.alternative_confidence, 4))
                      for c in word]
            left = x0 if word[0] is read[0] else x0 + word[0].x0
            right = x1 if word[-1] is read[-1] else x0 + word[-1].x1
            # (a detected box is about 1.8 times its text's size: the detector pads it)
            chars.append(ScanChar("".join(c.char for c in word), left * k, right * k, y0 * k, y1 * k,
                                  0.55 * height, page=number, glyphs=glyphs))
    height, width = gray.shape
    tables_pt = [_Table([(a * k, b * k, c * k, d * k) for a, b, c, d in t.cells]) for t in tables]
    return page_blocks(Page(number, width * k, height * k, offset, scanned=True), chars, tables_pt)


# --- page images from files -----------------------------------------------------------

def _fitted(gray: np.ndarray) -> tuple[np.ndarray, float]:
    """The image scaled down to ``MAX_SIDE`` if larger, and the factor applied."""
    import cv2

    factor = min(1.0, MAX_SIDE / max(gray.shape))
    if factor < 1.0:
        gray = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    return gray, factor


def image_pages(data: bytes, meter) -> Iterator[PageImage]:
    """The pages of one image file (PNG, JPEG, TIFF — every frame of a TIFF), decoded
    one at a time as they are read."""
    from PIL import Image, ImageSequence, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        image = Image.open(io.BytesIO(data))
        for frame in ImageSequence.Iterator(image):
            meter.add_page()
            meter.add_scanned_page()
            if frame.width * frame.height > MAX_PIXELS:
                raise ExtractionError("too_large", f"the image is {frame.width}×{frame.height} pixels; "
                                                   f"at most {MAX_PIXELS // 1_000_000} megapixels are read")
            gray = np.asarray(frame.convert("L"))
            fitted, factor = _fitted(gray)
            # Points as if the page were A4 wide: the thresholds of the PDF reader are in points.
            yield PageImage(fitted, _A4_WIDTH_PT / fitted.shape[1], 1.0 / factor)
    except ExtractionError:
        raise
    except (Image.DecompressionBombError, UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, Image.DecompressionBombError):
            raise ExtractionError("too_large", f"the image is too large to read ({exc})") from exc
        reason = "damaged, or not really a PNG, JPEG or TIFF" if isinstance(exc, UnidentifiedImageError) else exc
        raise ExtractionError("image_unreadable", f"the image cannot be decoded: {reason}") from exc


def pdf_page_image(pdf, index: int) -> PageImage:
    """One page of an open pypdfium2 document rendered at ``RENDER_DPI``."""
    page = pdf[index]
    bitmap = page.render(scale=RENDER_DPI / 72, grayscale=True)
    gray = np.array(bitmap.to_numpy()).reshape(bitmap.height, bitmap.width, -1)[:, :, 0]
    page.close()
    fitted, factor = _fitted(gray)
    k = 72.0 / RENDER_DPI / factor
    return PageImage(fitted, k, k)


# --- documents ----------------------------------------------------------------------------

def read_scanned_pages(data: bytes, pages: list[Page], scanned: list[int], meter) -> list[Page]:
    """``pages`` with those numbered in ``scanned`` read again by OCR, one page at a time."""
    import pypdfium2

    for _ in scanned:  # refused before any page is read when there are too many
        meter.add_scanned_page()
    ocr.engine()  # (where OCR cannot run: a clear error before rendering anything)
    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        raise ExtractionError("pdf_corrupt", f"the PDF's pages cannot be rendered: {exc}") from exc
    try:
        out = list(pages)
        for number in scanned:
            old = pages[number - 1]
            out[number - 1] = scan_page(pdf_page_image(pdf, number - 1), number, old.offset)
    finally:
        pdf.close()
    return out


def read_images(files: list[bytes], meter=None):
    """Page images (each file one page, a TIFF perhaps several), in order, as one report."""
    from service.budget import DEFAULT
    from service.ingest.pdf import document_from_pages
    from service.ingest.render import DocumentBuilder

    meter = meter or DEFAULT.meter()
    ocr.engine()  # (where OCR cannot run: a clear error before decoding anything)
    pages: list[Page] = []
    offset = 0.0
    for data in files:
        for image in image_pages(data, meter):
            page = scan_page(image, len(pages) + 1, offset)
            pages.append(page)
            offset += page.height
    if not any(page.blocks for page in pages):
        raise ExtractionError("blank_scan", "no text was found on the image(s): a blank or unreadable scan")
    builder = DocumentBuilder("image", meter)
    builder.warnings.append(f"{len(pages)} page image(s) read by OCR")
    return document_from_pages(pages, builder)
