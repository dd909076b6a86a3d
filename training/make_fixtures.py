"""Regenerate the format fixtures in ``tests/fixtures/`` from corpus reports.

    python -m training.make_fixtures [--corpus corpus] [--out tests/fixtures]

For each chosen report the prose is taken from the corpus text and the three
tables are rebuilt from its gold values in the official 2021 layout (merged
header cells, the rowspans of 三、本年度办理结果 and （三）…（六）), then written as:

- ``<id>.gbk.txt``  the corpus text encoded as GBK (GB18030 where GBK lacks a character);
- ``<id>.html``     a saved portal page: navigation, scripts, breadcrumbs and a footer
                    around the report body, tables with rowspan/colspan;
- ``<id>.docx``     python-docx, real Word tables with merged cells, a running header
                    and a page-number footer;
- ``<id>.pdf``      LibreOffice's export of that DOCX (ruled tables, labels wrapped in
                    narrow cells, a table running over a page break, page numbers).

plus the bad inputs in ``bad/``: an encrypted PDF (user password), a PDF that
only restricts permissions (empty user password, readable), a scanned PDF (an
image, no text layer), a truncated PDF and a ZIP that is not a DOCX.

LibreOffice (``apt-get install libreoffice-writer fonts-wqy-zenhei``) and
``pdftoppm`` (poppler-utils) are needed only here; the results are committed
so tests and CI need no converter.
"""

from __future__ import annotations

import argparse
import html
import io
import json
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from service.template import APPLICANT_COLUMNS, REVIEW_COLUMNS, REVIEW_GROUPS

ROOT = Path(__file__).resolve().parent.parent
CJK_FONT = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
TABLE_SECTIONS = ("active_disclosure", "applications", "review_litigation")

#: Reports made into fixtures, and how each is styled, so that the fixtures
#: cover different habits: repeated header rows, labels wrapped by hand,
#: borderless tables read from word positions.
REPORTS = {
    "000_62418b5d58b13a7d": {"wrap_labels": False, "repeat_header": True, "borders": True,
                             "footer": "- {PAGE} -", "header": True},
    "004_7f0b1ba19ca81226": {"wrap_labels": True, "repeat_header": False, "borders": True,
                             "footer": "第 {PAGE} 页 共 {NUMPAGES} 页", "header": False},
    "002_b66439113936b5c6": {"wrap_labels": False, "repeat_header": False, "borders": False,
                             "footer": "{PAGE}/{NUMPAGES}", "header": True},
}


# --- the report as blocks -----------------------------------------------------------

@dataclass
class TableSpec:
    """Rows of (text, rowspan, colspan); ``header_rows`` repeat on a new page."""

    rows: list[list[tuple[str, int, int]]]
    header_rows: int = 0
    widths: list[float] = field(default_factory=list)  # relative column widths


@dataclass
class Block:
    kind: str  # "title", "heading", "p", "table"
    text: str = ""
    table: TableSpec | None = None


def _value(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _wrap(label: str, wrap: bool) -> str:
    """Split a short label over two lines the way narrow cells are typed by hand."""
    if not wrap or len(label) != 4:
        return label
    return label[:2] + "\n" + label[2:]


def table2(values: dict, wrap: bool) -> TableSpec:
    def row(key: str, label: str, cols: tuple[str, ...]) -> list[tuple[str, int, int]]:
        got = values.get(key, {})
        if len(cols) == 3:
            return [(label, 1, 1)] + [(_value(got.get(c)), 1, 1) for c in cols]
        return [(label, 1, 1), (_value(got.get(cols[0])), 1, 3)]

    rows = [
        [("第二十条第（一）项", 1, 4)],
        [("信息内容", 1, 1), ("本年制发件数", 1, 1), ("本年废止件数", 1, 1), ("现行有效件数", 1, 1)],
        row("regulations", "规章", ("issued", "repealed", "in_force")),
        row("normative_documents", "行政规范性文件", ("issued", "repealed", "in_force")),
        [("第二十条第（五）项", 1, 4)],
        [("信息内容", 1, 1), ("本年处理决定数量", 1, 3)],
        row("licensing", "行政许可", ("decisions",)),
        [("第二十条第（六）项", 1, 4)],
        [("信息内容", 1, 1), ("本年处理决定数量", 1, 3)],
        row("penalty", "行政处罚", ("decisions",)),
        row("coercion", "行政强制", ("decisions",)),
        [("第二十条第（八）项", 1, 4)],
        [("信息内容", 1, 1), ("本年收费金额（单位：万元）", 1, 3)],
        row("fees", "行政事业性收费", ("amount",)),
    ]
    return TableSpec(rows, widths=[3, 2, 2, 2])


#: Table 3 body: (key, cells before the figures).  A cell is (text, rowspan, colspan).
_T3_BODY = [
    ("new_received", [("一、本年新收政府信息公开申请数量", 1, 3)]),
    ("carried_over", [("二、上年结转政府信息公开申请数量", 1, 3)]),
    ("granted", [("三、本年度办理结果", 22, 1), ("（一）予以公开", 1, 2)]),
    ("partially_granted", [("（二）部分公开（区分处理的，只计这一情形，不计其他情形）", 1, 2)]),
    ("denied_state_secret", [("（三）不予公开", 8, 1), ("1.属于国家秘密", 1, 1)]),
    ("denied_prohibited_by_law", [("2.其他法律行政法规禁止公开", 1, 1)]),
    ("denied_three_safeties", [("3.危及“三安全一稳定”", 1, 1)]),
    ("denied_third_party", [("4.保护第三方合法权益", 1, 1)]),
    ("denied_internal_affairs", [("5.属于三类内部事务信息", 1, 1)]),
    ("denied_process_info", [("6.属于四类过程性信息", 1, 1)]),
    ("denied_enforcement_file", [("7.属于行政执法案卷", 1, 1)]),
    ("denied_query", [("8.属于行政查询事项", 1, 1)]),
    ("unable_not_held", [("（四）无法提供", 3, 1), ("1.本机关不掌握相关政府信息", 1, 1)]),
    ("unable_needs_creation", [("2.没有现成信息需要另行制作", 1, 1)]),
    ("unable_unclear", [("3.补正后申请内容仍不明确", 1, 1)]),
    ("rejected_petition", [("（五）不予处理", 5, 1), ("1.信访举报投诉类申请", 1, 1)]),
    ("rejected_duplicate", [("2.重复申请", 1, 1)]),
    ("rejected_publication", [("3.要求提供公开出版物", 1, 1)]),
    ("rejected_excessive", [("4.无正当理由大量反复申请", 1, 1)]),
    ("rejected_confirmation", [("5.要求行政机关确认或重新出具已获取信息", 1, 1)]),
    ("other_no_correction", [("（六）其他处理", 3, 1),
                             ("1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请", 1, 1)]),
    ("other_no_fee", [("2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请", 1, 1)]),
    ("other_misc", [("3.其他", 1, 1)]),
    ("results_total", [("（七）总计", 1, 2)]),
    ("carried_forward", [("四、结转下年度继续办理", 1, 3)]),
]


def table3(values: dict, wrap: bool) -> TableSpec:
    rows: list[list[tuple[str, int, int]]] = [
        [("（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）", 3, 3), ("申请人情况", 1, 7)],
        [("自然人", 2, 1), ("法人或其他组织", 1, 5), ("总计", 2, 1)],
        [(_wrap(x, wrap), 1, 1) for x in ("商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他")],
    ]
    for key, labels in _T3_BODY:
        got = values.get(key, {})
        rows.append(labels + [(_value(got.get(c)), 1, 1) for c in APPLICANT_COLUMNS])
    return TableSpec(rows, header_rows=3, widths=[2.2, 2.2, 4.5] + [1.2] * 7)


def table4(values: dict, wrap: bool) -> TableSpec:
    labels = [(_wrap(x, wrap), 1, 1) for x in ("结果维持", "结果纠正", "其他结果", "尚未审结", "总计")]
    rows = [
        [("行政复议", 1, 5), ("行政诉讼", 1, 10)],
        [(t, 2, 1) for t, _, _ in labels] + [("未经复议直接起诉", 1, 5), ("复议后起诉", 1, 5)],
        labels + labels,
        [(_value(values.get(g, {}).get(c)), 1, 1) for g in REVIEW_GROUPS for c in REVIEW_COLUMNS],
    ]
    return TableSpec(rows, header_rows=3, widths=[1] * 15)


def report_blocks(text: str, gold: dict, wrap: bool) -> list[Block]:
    """The corpus report as title, headings, paragraphs and canonical tables."""
    sections = sorted(gold["sections"], key=lambda s: s["start"])
    blocks: list[Block] = []
    builders = {"active_disclosure": table2, "applications": table3, "review_litigation": table4}
    for sec in sections:
        body = text[sec["start"]:sec["end"]]
        lines = body.split("\n")
        if sec["key"] == "preamble":
            first = True
            for line in lines:
                if line.strip():
                    # Short lines before the first sentence are the title.
                    is_title = first and len(line.strip()) < 40 and "。" not in line
                    blocks.append(Block("title" if is_title else "p", line.strip()))
                    first = first and is_title
            continue
        blocks.append(Block("heading", lines[0].strip()))
        rest = lines[1:]
        if sec["key"] in TABLE_SECTIONS:
            for line in rest:
                if "\t" in line:
                    break  # the table starts; what follows is its cells
                if line.strip():
                    blocks.append(Block("p", line.strip()))
            values = gold.get("tables", {}).get(sec["key"], {})
            blocks.append(Block("table", table=builders[sec["key"]](values, wrap)))
        else:
            blocks.extend(Block("p", line.strip()) for line in rest if line.strip())
    return blocks


# --- HTML --------------------------------------------------------------------------

_PAGE_HEAD = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>{title} - 政府信息公开</title>
<style>body{{font-family:SimSun}} .nav li{{display:inline}} td{{border:1px solid #000}}</style>
<script>var _hmt = _hmt || []; (function(){{var s="统计代码 123条 2024年";}})();</script>
</head><body>
<div class="top-bar"><a href="/">首页</a> | <a href="/en">English</a> | <a href="/login">登录</a></div>
<nav class="nav"><ul><li><a href="/zwgk">政务公开</a></li><li><a href="/zwfw">政务服务</a></li>
<li><a href="/hdjl">互动交流</a></li><li><a href="/xxgk/nb">政府信息公开年报</a></li></ul></nav>
<div class="breadcrumb">当前位置：<a href="/">首页</a> &gt; <a href="/zwgk">政务公开</a> &gt; 年度报告</div>
<div class="main"><div class="article">
<h1 class="article-title">{title}</h1>
<div class="info">发布时间：2025-01-20　来源：本网　<a href="javascript:print()">打印</a></div>
<div class="TRS_Editor">
"""
_PAGE_TAIL = """</div>
<div class="related"><h3>相关链接</h3><ul><li><a href="/a">2023年政府信息公开工作年度报告</a></li>
<li><a href="/b">2022年政府信息公开工作年度报告</a></li><li><a href="/c">政府信息公开指南</a></li></ul></div>
</div></div>
<footer><p>主办单位：本机关办公室　地址：人民路1号　联系电话：0000-12345678</p>
<p>网站标识码 1234567890　ICP备12345678号</p></footer>
<script src="/js/jquery.min.js"></script><script>document.write("访问量 99999 次");</script>
</body></html>
"""


def _html_cell_text(text: str) -> str:
    return "<br>".join(html.escape(part) for part in text.split("\n"))


def to_html(blocks: list[Block]) -> str:
    titles = [b.text for b in blocks if b.kind == "title"]
    out = [_PAGE_HEAD.format(title=html.escape("".join(titles)))]
    for b in blocks:
        if b.kind == "title":
            continue  # the page's <h1> carries it
        if b.kind == "heading":
            out.append(f'<p style="text-indent:2em"><strong>{html.escape(b.text)}</strong></p>\n')
        elif b.kind == "p":
            # Source HTML wraps long lines; a break between two Chinese characters is no space.
            text = html.escape(b.text)
            if len(text) > 60:
                text = text[:37] + "\n" + text[37:]
            out.append(f'<p style="text-indent:2em">{text}</p>\n')
        elif b.kind == "table" and b.table:
            out.append('<table border="1" cellspacing="0" cellpadding="0" width="100%"><tbody>\n')
            for row in b.table.rows:
                out.append("<tr>")
                for text, rs, cs in row:
                    attrs = (f' rowspan="{rs}"' if rs > 1 else "") + (f' colspan="{cs}"' if cs > 1 else "")
                    out.append(f'<td{attrs}><p align="center">{_html_cell_text(text)}</p></td>')
                out.append("</tr>\n")
            out.append("</tbody></table>\n")
    out.append(_PAGE_TAIL)
    return "".join(out)


# --- DOCX --------------------------------------------------------------------------

def _field(paragraph, instr: str) -> None:
    """Append a Word field (PAGE, NUMPAGES) to a paragraph."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    run = paragraph.add_run()
    for kind, text in (("begin", None), (None, instr), ("separate", None), (None, "1"), ("end", None)):
        if kind:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        elif text == instr:
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = f" {instr} "
        else:
            el = OxmlElement("w:t")
            el.text = text
        run._r.append(el)


def _add_template_text(paragraph, template: str) -> None:
    import re

    for piece in re.split(r"(\{PAGE\}|\{NUMPAGES\})", template):
        if piece == "{PAGE}":
            _field(paragraph, "PAGE")
        elif piece == "{NUMPAGES}":
            _field(paragraph, "NUMPAGES")
        elif piece:
            paragraph.add_run(piece)


def _set_east_asian_font(run, name: str) -> None:
    from docx.oxml.ns import qn

    r_pr = run._r.get_or_add_rPr()
    fonts = r_pr.find(qn("w:rFonts"))
    if fonts is None:
        from docx.oxml import OxmlElement

        fonts = OxmlElement("w:rFonts")
        r_pr.append(fonts)
    fonts.set(qn("w:eastAsia"), name)


def _no_borders(table) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tbl_pr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "nil")
        borders.append(el)
    tbl_pr.append(borders)


def to_docx(blocks: list[Block], style: dict) -> bytes:
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    document = docx.Document()
    section = document.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)
    section.left_margin = section.right_margin = Cm(2.6)
    section.top_margin, section.bottom_margin = Cm(3.0), Cm(2.8)
    normal = document.styles["Normal"]
    normal.font.size = Pt(14)
    normal.font.name = "SimSun"
    titles = [b.text for b in blocks if b.kind == "title"]
    if style["header"]:
        _add_template_text(section.header.paragraphs[0], "".join(titles))
        section.header.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
    _add_template_text(section.footer.paragraphs[0], style["footer"])
    section.footer.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
    text_width = section.page_width - section.left_margin - section.right_margin

    for b in blocks:
        if b.kind in ("title", "heading", "p"):
            p = document.add_paragraph()
            run = p.add_run(b.text)
            _set_east_asian_font(run, "SimSun")
            if b.kind == "title":
                p.alignment = WD_ALIGN_PARAGRAPH.CENTER
                run.font.size = Pt(20)
                run.bold = True
            else:
                p.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
                p.paragraph_format.first_line_indent = Pt(28)
                run.bold = b.kind == "heading"
            continue
        spec = b.table
        assert spec is not None
        n_cols = sum(cs for _, _, cs in spec.rows[0])
        table = document.add_table(rows=len(spec.rows), cols=n_cols)
        if style["borders"]:
            table.style = "Table Grid"
        else:
            _no_borders(table)
        table.autofit = False
        total = sum(spec.widths)
        widths = [int(text_width * w / total) for w in spec.widths]
        for c, column in enumerate(table.columns):
            column.width = widths[c]  # the tblGrid LibreOffice lays out by
        for row in table.rows:
            for c, cell in enumerate(row.cells):
                cell.width = widths[c]
        # Place every cell of the spec on the grid, merging its span.
        taken: set[tuple[int, int]] = set()
        for r, row in enumerate(spec.rows):
            c = 0
            for text, rs, cs in row:
                while (r, c) in taken:
                    c += 1
                cell = table.cell(r, c)
                if rs > 1 or cs > 1:
                    cell = cell.merge(table.cell(r + rs - 1, c + cs - 1))
                lines = text.split("\n")
                cell.paragraphs[0].text = lines[0]
                for extra in lines[1:]:
                    cell.add_paragraph(extra)
                for p in cell.paragraphs:
                    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
                    for run in p.runs:
                        run.font.size = Pt(9)
                        _set_east_asian_font(run, "SimSun")
                for rr in range(r, r + rs):
                    for cc in range(c, c + cs):
                        taken.add((rr, cc))
                c += cs
        for r, row in enumerate(table.rows):
            tr_pr = row._tr.get_or_add_trPr()
            cant = OxmlElement("w:cantSplit")
            tr_pr.append(cant)
            if style["repeat_header"] and r < spec.header_rows:
                head = OxmlElement("w:tblHeader")
                head.set(qn("w:val"), "true")
                tr_pr.append(head)
        document.add_paragraph()
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def docx_to_pdf(docx_path: Path, out_dir: Path) -> Path:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice:
        raise SystemExit("LibreOffice is needed: apt-get install -y libreoffice-writer fonts-wqy-zenhei")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless",
                        "--convert-to", "pdf", "--outdir", str(out_dir), str(docx_path)],
                       check=True, capture_output=True, timeout=300)
    return out_dir / (docx_path.stem + ".pdf")


# --- bad inputs --------------------------------------------------------------------

def _small_pdf(encrypt=None) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    # An embedded TrueType subset carries a Unicode map (reportlab's CID fonts do not).
    pdfmetrics.registerFont(TTFont("WQY", CJK_FONT, subfontIndex=0))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, encrypt=encrypt, invariant=1)
    c.setFont("WQY", 14)
    lines = ["某某局2024年政府信息公开工作年度报告", "一、总体情况",
             "2024年，本局在政府网站发布各类信息512条。", "二、主动公开政府信息情况"]
    for i, line in enumerate(lines):
        c.drawString(72, 770 - 24 * i, line)
    c.showPage()
    c.save()
    return buf.getvalue()


def bad_inputs(out: Path, sample_pdf: Path) -> None:
    from reportlab.lib.pdfencrypt import StandardEncryption

    out.mkdir(parents=True, exist_ok=True)
    (out / "encrypted.pdf").write_bytes(_small_pdf(StandardEncryption("secret-user", "secret-owner", strength=128)))
    (out / "permissions_only.pdf").write_bytes(_small_pdf(StandardEncryption("", "secret-owner", canPrint=0,
                                                                              canCopy=0, strength=128)))
    data = sample_pdf.read_bytes()
    (out / "truncated.pdf").write_bytes(data[: min(len(data) // 2, 60_000)])
    # A scan: the first page as a picture, no text layer.
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["pdftoppm", "-r", "40", "-gray", "-png", "-singlefile", str(sample_pdf),
                        f"{tmp}/page"], check=True, timeout=120)
        from reportlab.lib.pagesizes import A4
        from reportlab.pdfgen import canvas

        buf = io.BytesIO()
        c = canvas.Canvas(buf, pagesize=A4, invariant=1)
        c.drawImage(f"{tmp}/page.png", 0, 0, width=A4[0], height=A4[1])
        c.showPage()
        c.save()
        (out / "scanned.pdf").write_bytes(buf.getvalue())
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("readme.txt", "这不是一个 Word 文档。")
        z.writestr("data/report.csv", "年份,申请数\n2024,104\n")
    (out / "not_docx.zip").write_bytes(buf.getvalue())


# --- main --------------------------------------------------------------------------

def make(corpus: Path, out: Path, ids: list[str] | None = None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for report_id, style in REPORTS.items():
        if ids and report_id not in ids:
            continue
        text = (corpus / f"{report_id}.txt").read_text(encoding="utf-8")
        gold = json.loads((corpus / f"{report_id}.gold.json").read_text(encoding="utf-8"))
        try:
            gbk = text.encode("gbk")
        except UnicodeEncodeError:
            gbk = text.encode("gb18030")
        (out / f"{report_id}.gbk.txt").write_bytes(gbk)
        blocks = report_blocks(text, gold, style["wrap_labels"])
        (out / f"{report_id}.html").write_text(to_html(blocks), encoding="utf-8")
        docx_path = out / f"{report_id}.docx"
        docx_path.write_bytes(to_docx(blocks, style))
        docx_to_pdf(docx_path, out)
        written += [out / f"{report_id}{s}" for s in (".gbk.txt", ".html", ".docx", ".pdf")]
    first = out / f"{next(iter(REPORTS))}.pdf"
    if first.exists():
        bad_inputs(out / "bad", first)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures")
    parser.add_argument("ids", nargs="*", help="report ids (default: all configured)")
    args = parser.parse_args()
    for path in make(args.corpus, args.out, args.ids):
        print(f"{path}  {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
