"""The PDF reader's fast paths give exactly what pdfplumber's own (slower) ones give.

``service/ingest/pdf.py`` reads chars from pdfminer's layout objects instead of
``page.chars``, removes duplicate chars without ``page.dedupe_chars()``, finds
each char's table cell through an index, and skips ``find_tables`` on pages with
no ruling lines.  Each is checked here against the pdfplumber function it replaces,
on the fixture PDFs and on PDFs drawn here with what the fixtures lack: text in a
form XObject (a figure), a rotated page, a page whose MediaBox does not start at
(0, 0), fake bold (every char drawn twice, slightly shifted), rotated watermark
text and an image.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import pdfplumber
import pytest
from pdfminer.layout import LTFigure
from pdfplumber.utils import dedupe_chars

from service import ingest
from service.ingest import pdf

FIXTURES = Path(__file__).resolve().parent / "fixtures"
READABLE = sorted(FIXTURES.glob("*.pdf")) + [FIXTURES / "bad" / "permissions_only.pdf",
                                             FIXTURES / "bad" / "scanned.pdf"]
KEYS = ("text", "x0", "x1", "top", "bottom", "doctop", "size", "upright", "fontname")


def _drawn(rotate: int = 0, fake_bold: bool = True, watermark_angle: int = 90) -> bytes:
    """Two pages: a heading drawn twice 0.3pt apart (fake bold), prose inside a form
    XObject, a watermark turned a quarter turn, a small image and a ruled 2×2 table; page 2 has
    another paragraph and a table whose inner edge passes through a char's centre."""
    from PIL import Image
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(595, 842), invariant=1)
    if rotate:
        c.setPageRotation(rotate)
    c.setFont("STSong-Light", 16)
    for dx in (0, 0.3) if fake_bold else (0,):
        c.drawString(72 + dx, 780, "某某局2024年政府信息公开工作年度报告")
    c.beginForm("body")
    c.setFont("STSong-Light", 12)
    c.drawString(72, 740, "一、总体情况")
    c.drawString(72, 720, "2024年，本局在政府网站发布各类信息 512 条。")
    c.endForm()
    c.doForm("body")
    c.saveState()
    c.translate(300, 400)
    c.rotate(watermark_angle)
    c.setFont("STSong-Light", 40)
    c.drawString(0, 0, "内部资料")
    c.restoreState()
    c.drawImage(ImageReader(Image.new("RGB", (8, 8), "red")), 480, 700, 20, 20)
    c.setFont("STSong-Light", 12)
    for r, row in enumerate((("项目", "数量"), ("收到申请", "12"))):
        for col, text in enumerate(row):
            c.rect(72 + 150 * col, 600 - 20 * (r + 1), 150, 20)
            c.drawString(75 + 150 * col, 600 - 20 * r - 15, text)
    c.showPage()
    c.setFont("STSong-Light", 12)
    c.drawString(72, 760, "二、主动公开政府信息情况")
    c.rect(72, 700, 100, 20)
    c.rect(172, 700, 100, 20)
    c.drawString(166, 705, "界")  # centred on the shared edge x=172
    c.drawString(230, 705, "数")
    c.showPage()
    c.save()
    return buf.getvalue()


def _shifted_mediabox(data: bytes) -> bytes:
    """The same PDF with every MediaBox moved to start at (9, 9) (same byte length,
    so the cross-reference table stays valid)."""
    moved = data.replace(b"/MediaBox [ 0 0 595 842 ]", b"/MediaBox [ 9 9 595 842 ]")
    assert moved != data
    return moved


def _sources() -> list[tuple[str, bytes]]:
    drawn = _drawn()
    return ([(p.name, p.read_bytes()) for p in READABLE]
            + [("drawn", drawn), ("rotated", _drawn(rotate=90)), ("mediabox", _shifted_mediabox(drawn))])


SOURCES = _sources()


@pytest.mark.parametrize("name,data", SOURCES, ids=[n for n, _ in SOURCES])
def test_layout_chars_are_pdfplumbers_chars(name, data):
    with pdfplumber.open(io.BytesIO(data)) as doc:
        for page in doc.pages:
            chars, ruled, images = pdf._layout_chars(page)
            assert [{k: c[k] for k in KEYS} for c in chars] == [{k: c[k] for k in KEYS} for c in page.chars]
            # what pdfplumber does not say: set at an angle (its matrix turns it)
            assert [c["turned"] for c in chars] == [abs(c["matrix"][1]) > 0.02 * abs(c["matrix"][0])
                                                    for c in page.chars]
            assert ruled == bool(page.lines or page.rects or page.curves)
            assert images == len(page.images)


def test_drawn_pdf_has_what_the_fixtures_lack():
    """The comparisons above cover figures, duplicates, rotated text and images."""
    with pdfplumber.open(io.BytesIO(SOURCES[-3][1])) as doc:
        page = doc.pages[0]
        assert any(isinstance(obj, LTFigure) for obj in page.layout) and page.images
        assert len(page.dedupe_chars().chars) < len(page.chars)
        assert any(not c["upright"] for c in page.chars)
    with pdfplumber.open(io.BytesIO(SOURCES[-1][1])) as doc:
        assert doc.pages[0].mediabox[0] == 9


@pytest.mark.parametrize("name,data", SOURCES, ids=[n for n, _ in SOURCES])
def test_dedupe_keeps_exactly_pdfplumbers_chars(name, data):
    with pdfplumber.open(io.BytesIO(data)) as doc:
        for page in doc.pages:
            assert pdf._dedupe(page.chars) == dedupe_chars(page.chars)


def test_dedupe_on_chained_near_duplicates():
    """Chars chaining within 1pt in height and then in x are one cluster, as in pdfplumber;
    on equal positions the first drawn is kept; order is the drawing order."""
    rng = random.Random(0)
    for _ in range(500):
        chars = [{"upright": rng.random() < 0.9, "text": rng.choice("的一 a"), "fontname": rng.choice("AB"),
                  "size": rng.choice([10.5, 12.0]),
                  "doctop": rng.choice([100.0, 100.5, 101.2, 102.3, 130.0]) + rng.choice([0, 0.3, 1.0]),
                  "x0": rng.choice([50.0, 50.4, 51.3, 52.1, 60.0]) + rng.choice([0, 0.5, 1.0]),
                  "n": i}
                 for i in range(rng.randint(0, 30))]
        assert [c["n"] for c in pdf._dedupe(chars)] == [c["n"] for c in dedupe_chars(chars)]


def _assign_by_scanning(chars, tables):
    """The plain reading of the rule: every cell scans every char."""
    used: set[int] = set()
    out = []
    for table in tables:
        cells = [cell for cell in table.cells if cell]
        if len(cells) < 2:
            continue
        per_cell = []
        for x0, top, x1, bottom in cells:
            inside = [i for i, ch in enumerate(chars) if i not in used
                      and x0 <= (ch.x0 + ch.x1) / 2 <= x1 and top <= (ch.top + ch.bottom) / 2 <= bottom]
            used.update(inside)
            per_cell.append(inside)
        out.append(per_cell)
    return out


@pytest.mark.parametrize("name,data", SOURCES, ids=[n for n, _ in SOURCES])
def test_indexed_cell_assignment_equals_scanning_every_char(name, data):
    with pdfplumber.open(io.BytesIO(data)) as doc:
        for page in doc.pages:
            tables = page.find_tables(pdf._TABLE_SETTINGS)
            chars = [pdf.Char(c["text"], c["x0"], c["x1"], c["top"], c["bottom"], c["size"])
                     for c in page.chars]
            fast = [per_cell for _, _, per_cell in pdf._assign_cells(chars, tables)]
            assert fast == _assign_by_scanning(chars, tables)


def test_char_on_a_shared_cell_edge_goes_to_the_first_cell():
    doc = ingest.read(SOURCES[-3][1], filename="drawn.pdf")
    second = doc.tables[-1]
    assert [[c.text for c in row] for row in second.rows] == [["界", "数"]]


def test_drawn_pdf_reads_once_without_watermark_or_doubled_heading():
    doc = ingest.read(SOURCES[-3][1], filename="drawn.pdf")
    assert doc.text.startswith("某某局2024年政府信息公开工作年度报告\n一、总体情况\n")
    assert "内部资料" not in doc.text
    assert "2024年，本局在政府网站发布各类信息 512 条。" in doc.text
    assert [[c.text for c in row] for row in doc.tables[0].rows] == [["项目", "数量"], ["收到申请", "12"]]
    # The same page without the fake bold reads the same.
    assert ingest.read(_drawn(fake_bold=False), filename="drawn.pdf").text == doc.text
    # So does one whose watermark runs diagonally (pdfminer counts that as upright text).
    assert ingest.read(_drawn(watermark_angle=45), filename="drawn.pdf").text == doc.text


def test_nearest_grid_edge():
    edges = [0.0, 10.0, 20.0, 35.5]
    for v in [-5, 0, 4.9, 5, 5.1, 10, 15, 19.9, 27.75, 30, 35.5, 99]:
        assert pdf._index(edges, v) == min(range(len(edges)), key=lambda i: abs(edges[i] - v))
