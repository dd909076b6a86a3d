"""Ingestion of every format: sniffing, derived text, table cells and their offsets, bad inputs.

The fixtures in tests/fixtures are corpus reports re-rendered by
training/make_fixtures.py (HTML page, python-docx DOCX, LibreOffice PDF); the
assertions compare them with the corpus text and gold, so they check the real
content, not a snapshot.
"""

from __future__ import annotations

import io
import json
import random
import re
import zipfile
from pathlib import Path

import pytest

from service import ingest
from service.template import APPLICANT_COLUMNS
from service.types import Document, ExtractionError

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
BAD = FIXTURES / "bad"
CORPUS = ROOT / "corpus"
REPORT_IDS = sorted(p.name[: -len(".gbk.txt")] for p in FIXTURES.glob("*.gbk.txt"))
# Ruled tables (the borderless 002 PDF is read as tab-separated text lines instead).
RULED = [(rid, fmt) for rid in REPORT_IDS for fmt in ("html", "docx", "pdf")
         if not (fmt == "pdf" and rid.startswith("002"))]


def _gold(report_id: str) -> dict:
    return json.loads((CORPUS / f"{report_id}.gold.json").read_text(encoding="utf-8"))


def _read(name: str, filename: str | None = None) -> Document:
    return ingest.read((FIXTURES / name).read_bytes(), filename=filename or name)


def _squash(text: str) -> str:
    """Drop spaces (not newlines): spacing around figures differs between formats."""
    return re.sub(r"[ \u3000\u00a0]", "", text)


def _assert_offsets(doc: Document) -> None:
    for table in doc.tables:
        assert doc.text[table.start:table.end].count("\n") == len(table.rows) - 1
        for r, row in enumerate(table.rows):
            for c, cell in enumerate(row):
                assert doc.text[cell.start:cell.end] == cell.text, (r, c)


def test_fixtures_exist_and_are_small():
    assert len(REPORT_IDS) >= 2
    for path in FIXTURES.rglob("*"):
        if path.is_file():
            assert path.stat().st_size < 200 * 1024, path


@pytest.mark.parametrize("report_id", REPORT_IDS)
@pytest.mark.parametrize("fmt", ["html", "docx", "pdf"])
def test_prose_survives_every_format(report_id, fmt):
    """Every metric's evidence of the gold reads whole in the derived text (no figure
    broken by a line end), and every section heading is on a line of its own."""
    doc = _read(f"{report_id}.{fmt}")
    assert doc.format == fmt
    gold = _gold(report_id)
    squashed = _squash(doc.text)
    for metric in gold["metrics"]:
        assert _squash(metric["text"]) in squashed, metric["text"]
    lines = {_squash(line) for line in doc.text.split("\n")}
    for section in gold["sections"]:
        if section["heading"]:
            assert _squash(section["heading"]) in lines, section["heading"]


def _table3_row(values: dict, label_cells: list[str]) -> str:
    figures = ["" if values.get(c) is None else str(values[c]) for c in APPLICANT_COLUMNS]
    return "\t".join(label_cells + figures)


@pytest.mark.parametrize("report_id,fmt", RULED)
def test_tables_as_tab_rows_with_exact_cells(report_id, fmt):
    doc = _read(f"{report_id}.{fmt}")
    _assert_offsets(doc)
    assert len(doc.tables) == 3
    gold = _gold(report_id)["tables"]
    t3 = gold["applications"]
    lines = doc.text.split("\n")
    # Merged label cells leave their spanned positions empty, like the seed text layout.
    assert _table3_row(t3["new_received"], ["一、本年新收政府信息公开申请数量", "", ""]) in lines
    assert _table3_row(t3["granted"], ["三、本年度办理结果", "（一）予以公开", ""]) in lines
    assert _table3_row(t3["denied_third_party"], ["", "", "4.保护第三方合法权益"]) in lines
    assert _table3_row(t3["results_total"], ["", "（七）总计", ""]) in lines
    review = gold["review_litigation"]
    figures = [str(review[g][c]) for g in ("review", "litigation_direct", "litigation_after_review")
               for c in ("maintained", "corrected", "other", "pending", "total")]
    assert "\t".join(figures) in lines
    licensing = gold["active_disclosure"]["licensing"]["decisions"]
    assert f"行政许可\t{licensing}\t\t" in lines
    # Header rows of a table running over a page break are not repeated.
    assert sum(1 for line in lines if line.startswith("（本列数据的勾稽关系为")) == 1
    table3 = doc.tables[1]
    assert len(table3.rows) == 3 + 25
    assert {len(row) for row in table3.rows} == {10}


@pytest.mark.parametrize("report_id,fmt", RULED)
def test_merged_cells_are_marked_spanned(report_id, fmt):
    doc = _read(f"{report_id}.{fmt}")
    table3 = doc.tables[1]
    origin = table3.rows[5][0]  # 三、本年度办理结果 spans the 22 result rows
    assert origin.text == "三、本年度办理结果"
    for r in range(6, 6 + 21):
        assert (r, 0) in table3.spanned
        assert table3.rows[r][0] is origin
    assert (5, 0) not in table3.spanned
    assert (0, 1) in table3.spanned and (0, 3) not in table3.spanned  # the 3×3 header corner


def test_formats_of_one_report_derive_the_same_tables():
    report_id = REPORT_IDS[0]
    texts = {}
    for fmt in ("html", "docx", "pdf"):
        doc = _read(f"{report_id}.{fmt}")
        texts[fmt] = [[c.text for c in row] for table in doc.tables for row in table.rows]
    assert texts["html"] == texts["docx"] == texts["pdf"]


def test_pdf_drops_page_numbers_and_running_header():
    doc = _read("000_62418b5d58b13a7d.pdf")
    lines = doc.text.split("\n")
    assert not [line for line in lines if re.fullmatch(r"-\s*\d+\s*-", line.strip())]
    title = "卫生健康委员会 2024 年政府信息公开工作年度报告"
    assert lines[0] == title and lines.count(title) == 1  # the running header is gone, the title stays
    pages = _read("004_7f0b1ba19ca81226.pdf").text
    assert not re.search(r"第\s*\d+\s*页", pages)


def test_borderless_pdf_table_reads_as_tab_rows():
    doc = _read("002_b66439113936b5c6.pdf")
    values = _gold("002_b66439113936b5c6")["tables"]["applications"]["new_received"]
    row = "\t".join(str(values[c]) for c in APPLICANT_COLUMNS)
    assert f"一、本年新收政府信息公开申请数量\t{row}" in doc.text.split("\n")


# --- text encodings ---------------------------------------------------------------------

@pytest.mark.parametrize("report_id", REPORT_IDS)
def test_gbk_is_detected(report_id):
    original = (CORPUS / f"{report_id}.txt").read_text(encoding="utf-8")
    data = (FIXTURES / f"{report_id}.gbk.txt").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    doc = ingest.read(data, filename="report.txt")
    assert doc.format == "txt" and doc.text == original


def test_utf8_bom_and_str_input():
    text = "某某局2024年政府信息公开工作年度报告\n一、总体情况\n"
    assert ingest.read(b"\xef\xbb\xbf" + text.encode()).text == text
    assert ingest.read("\ufeff" + text).text == text


def test_utf8_with_one_bad_byte_is_not_read_as_gbk():
    text = "一、总体情况\n本年度在政府网站发布各类信息512条，政务公开平台发布信息211条。" * 3
    data = text.encode("utf-8")
    data = data[:40] + b"\xff" + data[40:]
    doc = ingest.read(data)
    assert "政府网站发布各类信息512条" in doc.text and doc.warnings


# --- sniffing by content ------------------------------------------------------------------

@pytest.mark.parametrize("name,wrong_name,fmt", [
    ("000_62418b5d58b13a7d.pdf", "report.txt", "pdf"),
    ("000_62418b5d58b13a7d.docx", "report.pdf", "docx"),
    ("000_62418b5d58b13a7d.html", "report.docx", "html"),
    ("000_62418b5d58b13a7d.gbk.txt", "report.html", "txt"),
])
def test_format_comes_from_content_not_name(name, wrong_name, fmt):
    assert _read(name, filename=wrong_name).format == fmt


# --- HTML specifics ---------------------------------------------------------------------

def test_html_drops_navigation_scripts_and_footer():
    doc = _read("000_62418b5d58b13a7d.html")
    for junk in ("统计代码", "访问量", "政务服务", "ICP备", "当前位置", "相关链接", "打印"):
        assert junk not in doc.text, junk
    assert doc.text.startswith("卫生健康委员会 2024 年政府信息公开工作年度报告\n")


def test_html_rowspan_colspan_grid_and_cjk_line_breaks():
    page = """<html><head><script>var x = "不要";</script></head><body>
    <div class="content"><p>本机关在政
    府网站发布各类信息 512 条。</p>
    <table border=1>
      <tr><td rowspan=2 colspan=2>项目</td><td colspan=2>数量</td></tr>
      <tr><td>自然<br>人</td><td>法人</td></tr>
      <tr><td rowspan="2">（三）不予公开</td><td>1.属于国家秘密</td><td>0</td><td>1</td></tr>
      <tr><td>2.其他</td><td>3</td><td>4</td></tr>
    </table></div></body></html>"""
    doc = ingest.read(page.encode("utf-8"))
    assert doc.format == "html"
    assert "本机关在政府网站发布各类信息 512 条。" in doc.text.split("\n")
    assert "不要" not in doc.text
    rows = doc.text[doc.tables[0].start:doc.tables[0].end].split("\n")
    assert rows == ["项目\t\t数量\t", "\t\t自然人\t法人", "（三）不予公开\t1.属于国家秘密\t0\t1", "\t2.其他\t3\t4"]
    table = doc.tables[0]
    assert table.spanned == {(0, 1), (1, 0), (1, 1), (0, 3), (3, 0)}
    assert table.rows[3][0] is table.rows[2][0]
    _assert_offsets(doc)


def test_html_in_gbk_with_meta_charset():
    page = '<html><head><meta charset="gbk"></head><body><p>一、总体情况</p><p>收到申请 5 件。</p></body></html>'
    doc = ingest.read(page.encode("gbk"))
    assert doc.text == "一、总体情况\n收到申请 5 件。\n"


# --- DOCX specifics ---------------------------------------------------------------------

def test_docx_has_no_header_or_footer_text():
    doc = _read("000_62418b5d58b13a7d.docx")
    assert doc.text.count("卫生健康委员会 2024 年政府信息公开工作年度报告") == 1
    assert not re.search(r"^-\s*\d+\s*-$", doc.text, re.M)


# --- PDF specifics (a PDF drawn here, so the expected text is known exactly) ------------

def _drawn_pdf() -> bytes:
    """Two pages: running header, page numbers, a paragraph whose line ends inside a
    figure's wording, a ruled table over the page break with its header repeated and
    a merged cell."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(595, 842), invariant=1)
    size = 12

    def furniture(page: int) -> None:
        c.setFont("STSong-Light", 9)
        c.drawCentredString(297, 810, "某某局2024年政府信息公开工作年度报告")
        c.drawCentredString(297, 30, f"- {page} -")
        c.setFont("STSong-Light", size)

    def table(rows, y_top, x0=72, widths=(150, 200, 100), h=20):
        # rows: list of (cells) with (text, colspan, rowspan)
        taken = set()
        for r, row in enumerate(rows):
            col = 0
            for text, cs, rs in row:
                while (r, col) in taken:
                    col += 1
                x = x0 + sum(widths[:col])
                w = sum(widths[col:col + cs])
                c.rect(x, y_top - h * (r + rs), w, h * rs)
                c.drawString(x + 3, y_top - h * r - 15, text)
                taken.update((r + i, col + j) for i in range(rs) for j in range(cs))
                col += cs

    furniture(1)
    c.setFont("STSong-Light", 18)
    c.drawCentredString(297, 760, "某某局2024年政府信息公开工作年度报告")
    c.setFont("STSong-Light", size)
    c.drawString(72, 720, "一、总体情况")
    # The first line is filled up to the right margin and ends inside 在政|府网站.
    width = 595 - 72 * 2
    head = "2024年，本局持续深化政务公开，严格落实信息发布审核制度"
    while pdfmetrics.stringWidth(head + "，全年在政", "STSong-Light", size) + size <= width:
        head += "，严格把关"
    lines = [head + "，全年在政", "府网站发布各类信息 512 条，同比增长百分之十二，公开质量稳步提高。"]
    y = 700
    for line in lines:
        c.drawString(72, y, line)
        y -= 18
    header = [("项目", 1, 1), ("事项", 1, 1), ("数量", 1, 1)]
    table([header, [("（三）不予公开", 1, 2), ("1.属于国家秘密", 1, 1), ("0", 1, 1)],
           [("2.其他法律行政法规禁止公开", 1, 1), ("3", 1, 1)]], y_top=200)
    c.showPage()
    furniture(2)
    table([header, [("（四）无法提供", 1, 1), ("1.本机关不掌握相关政府信息", 1, 1), ("9", 1, 1)]], y_top=780)
    c.drawString(72, 680, "二、主动公开政府信息情况")
    c.showPage()
    c.save()
    return buf.getvalue()


def test_pdf_prose_rejoined_table_merged_over_page_break():
    doc = ingest.read(_drawn_pdf(), filename="scan.txt")
    assert doc.format == "pdf"
    lines = doc.text.split("\n")
    assert lines[0] == "某某局2024年政府信息公开工作年度报告"
    assert lines[1] == "一、总体情况"
    assert "在政府网站发布各类信息 512 条" in lines[2]  # one paragraph, figure whole
    assert lines[2].endswith("公开质量稳步提高。")
    table = doc.text[doc.tables[0].start:doc.tables[0].end].split("\n")
    assert table == ["项目\t事项\t数量",
                     "（三）不予公开\t1.属于国家秘密\t0",
                     "\t2.其他法律行政法规禁止公开\t3",
                     "（四）无法提供\t1.本机关不掌握相关政府信息\t9"]
    assert len(doc.tables) == 1 and (2, 0) in doc.tables[0].spanned
    assert "二、主动公开政府信息情况" in lines
    assert not any(re.fullmatch(r"-\s*\d\s*-", line) for line in lines)
    assert doc.text.count("某某局2024年政府信息公开工作年度报告") == 1
    _assert_offsets(doc)


# --- bad inputs -----------------------------------------------------------------------------

def _code(data: bytes, filename: str | None = None) -> str:
    with pytest.raises(ExtractionError) as info:
        ingest.read(data, filename=filename)
    assert info.value.detail
    return info.value.code


def test_empty_and_blank_inputs():
    assert _code(b"") == "empty"
    assert _code(b" \n\t\r\n") == "empty"


def test_encrypted_pdf():
    assert _code((BAD / "encrypted.pdf").read_bytes()) == "pdf_encrypted"


def test_pdf_restricting_only_permissions_is_read():
    doc = ingest.read((BAD / "permissions_only.pdf").read_bytes())
    assert "2024年，本局在政府网站发布各类信息512条。" in doc.text


def test_a_pdf_of_page_images_is_read_by_ocr():
    # (a 40 dpi picture of the first page: OCR reads some of it, placed on page 1)
    doc = ingest.read((BAD / "scanned.pdf").read_bytes())
    assert "1 of 1 pages were read by OCR (no text layer)" in doc.warnings
    assert "2024年" in doc.text and doc.glyphs
    assert {g.page for g in doc.glyphs.values()} == {1}


def test_truncated_pdf():
    assert _code((BAD / "truncated.pdf").read_bytes()) == "pdf_corrupt"
    whole = (FIXTURES / "004_7f0b1ba19ca81226.pdf").read_bytes()
    assert _code(whole[:3000] + b"\n%%EOF\n") == "pdf_corrupt"  # cut, with a forged end marker


def test_zip_that_is_not_a_docx():
    assert _code((BAD / "not_docx.zip").read_bytes(), "report.docx") == "unsupported_type"


def test_damaged_docx():
    data = (FIXTURES / "000_62418b5d58b13a7d.docx").read_bytes()
    assert _code(data[: len(data) // 2]) == "docx_corrupt"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document><broken")
    assert _code(buf.getvalue()) == "docx_corrupt"


def test_legacy_office_is_unsupported():
    assert _code(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)) * 4) == "unsupported_type"


@pytest.mark.parametrize("magic", [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"II*\x00"])
def test_a_damaged_image_says_so(magic):
    assert _code(magic + bytes(range(256)) * 4) == "image_unreadable"


def test_random_bytes():
    rng = random.Random(7)
    for n in (16, 1000, 50_000):
        data = bytes(rng.randrange(256) for _ in range(n))
        assert _code(data) in {"binary", "undecodable", "unsupported_type"}


def test_html_without_a_report_reads_but_holds_no_report_text():
    page = b"<!DOCTYPE html><html><body><nav><a href='/'>home</a></nav><p>Welcome to our site.</p></body></html>"
    doc = ingest.read(page)
    assert doc.format == "html" and doc.text == "Welcome to our site.\n"


def test_radical_code_points_are_read_as_the_characters_they_stand_for():
    # (Chrome's print to PDF and some fonts write ⼀ U+2F00 for 一, ⺠ U+2EA0 for 民)
    doc = ingest.read("⼀、总体情况\n本年度⼈⺠政府⽹站发布信息12条。".encode())
    assert doc.text == "一、总体情况\n本年度人民政府网站发布信息12条。"  # one for one: no offset moves
    assert any("radical code points" in w for w in doc.warnings)


def test_a_ruled_frame_around_prose_is_read_as_paragraphs():
    from service.ingest.pdf import LAYOUT_CELL_CHARS, PdfCell, TableFragment, _layout_parts

    prose = "二〇二三年，本局" + "认真贯彻执行条例。" * 60
    cells = [PdfCell(0, 100, 0, 10, "名称"), PdfCell(100, 300, 0, 10, "某局年度报告"),
             PdfCell(0, 300, 10, 200, prose),
             PdfCell(0, 100, 200, 210, "规章"), PdfCell(100, 300, 200, 210, "0")]
    assert len(prose) > LAYOUT_CELL_CHARS
    parts = _layout_parts(TableFragment(1, 0, 300, 0, 210, cells))
    assert [type(p).__name__ for p in parts] == ["TableFragment", "str", "TableFragment"]
    assert parts[1] == prose and [c.text for c in parts[2].cells] == ["规章", "0"]


def test_a_ruled_cell_holding_rows_whose_rules_were_not_drawn_is_read_as_rows():
    from service.ingest.pdf import Char, PdfCell, TableFragment, _layout_parts

    def word(text: str, x: float, top: float) -> list[Char]:
        return [Char(ch, x + 10 * i, x + 10 * i + 9, top, top + 10, 10.0, 1) for i, ch in enumerate(text)]

    lines = [("（一）予以公开", "26", "26"), ("（二）部分公开", "0", "0"), ("（三）不予公开", "0", "0")]
    chars = [ch for n, (label, a, b) in enumerate(lines)
             for ch in word(label, 0, 20 * n) + word(a, 200, 20 * n) + word(b, 300, 20 * n)]
    cell = PdfCell(0, 320, 0, 60, "\n".join(" ".join(line) for line in lines), chars=chars)
    parts = _layout_parts(TableFragment(1, 0, 320, 0, 60, [cell, PdfCell(0, 320, 60, 70, "四、结转")]))
    assert parts[0] == "（一）予以公开\t26\t26\n（二）部分公开\t0\t0\n（三）不予公开\t0\t0"


def test_a_scanned_table_continues_on_a_page_that_sat_a_few_millimetres_off():
    from service.ingest.pdf import Page, PdfCell, TableFragment, _merge_page_breaks

    def page(number: int, dx: float, scanned: bool) -> Page:
        offset = (number - 1) * 842.0
        cells = [PdfCell(50 + dx, 150 + dx, offset + 100, offset + 120, f"行{number}"),
                 PdfCell(150 + dx, 250 + dx, offset + 100, offset + 120, "0")]
        return Page(number, 595, 842, offset, [TableFragment(number, 50 + dx, 250 + dx, offset + 100,
                                                             offset + 120, cells)], scanned=scanned)

    merged = _merge_page_breaks([page(1, 0, True), page(2, 8, True)])
    assert len(merged) == 1 and sorted({c.x0 for c in merged[0].cells}) == [50, 150]
    # a text layer's tables 8 pt apart are two tables
    assert len(_merge_page_breaks([page(1, 0, False), page(2, 8, False)])) == 2
