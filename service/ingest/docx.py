"""DOCX: paragraphs and tables in document order, merged cells expanded.

python-docx opens the package; the body is then walked at the XML level because
merged cells (``gridSpan``, ``vMerge``), content controls and field codes need
the raw structure: python-docx's ``table.rows[i].cells`` repeats merged cells
and hides ``gridBefore``.  Headers and footers live in other parts and so never
reach the text (no running headers, no page numbers).
"""

from __future__ import annotations

import io
import zipfile

from lxml import etree

from service.budget import DEFAULT, Meter
from service.ingest.render import DocumentBuilder, Grid
from service.types import Document, ExtractionError

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_W = f"{{{W}}}"

#: Subtrees whose text is not the visible document text.
_SKIP = {_W + "pPr", _W + "rPr", _W + "del", _W + "tcPr", _W + "trPr", _W + "tblPr", _W + "tblGrid",
         _W + "sectPr", _W + "footnoteReference", _W + "endnoteReference", f"{{{MC}}}Fallback"}


def _paragraph_text(p: etree._Element) -> str:
    out: list[str] = []

    def walk(el: etree._Element) -> None:
        for child in el:
            tag = child.tag
            if not isinstance(tag, str) or tag in _SKIP:
                continue
            if tag == _W + "t":
                out.append(child.text or "")
            elif tag == _W + "tab":
                out.append("\t")
            elif tag in (_W + "br", _W + "cr"):
                out.append("\n")
            elif tag == _W + "noBreakHyphen":
                out.append("-")
            elif tag == _W + "p":  # a text box inside this paragraph
                out.append("\n")
                walk(child)
                out.append("\n")
            else:
                walk(child)

    walk(p)
    return "".join(out)


def _val(el: etree._Element | None, default: str | None = None) -> str | None:
    if el is None:
        return default
    return el.get(_W + "val", default)


def _int(value: str | None, default: int = 1) -> int:
    try:
        return max(0, int(value)) if value is not None else default
    except ValueError:
        return default


def _cell_lines(tc: etree._Element, meter: Meter, depth: int = 1) -> list[str]:
    """A cell's paragraphs (and nested tables, flattened), one entry per visual line.
    A nested table's rows are its own (not its nested tables' too): each table is
    read once, however deep, and the depth is counted against the budget."""
    lines: list[str] = []
    for child in _content_children(tc):
        if child.tag == _W + "p":
            lines.extend(_paragraph_text(child).split("\n"))
        elif child.tag == _W + "tbl":
            meter.check_depth(depth + 1)
            for tr in _content_children(child):
                if tr.tag == _W + "tr":
                    lines.append(" ".join(" ".join(_cell_lines(c, meter, depth + 1))
                                          for c in _content_children(tr) if c.tag == _W + "tc"))
    return lines


def _content_children(el: etree._Element):
    """Block-level children, looking through content controls and custom XML wrappers."""
    for child in el:
        tag = child.tag
        if tag in (_W + "sdt",):
            content = child.find(_W + "sdtContent")
            if content is not None:
                yield from _content_children(content)
        elif tag == _W + "customXml":
            yield from _content_children(child)
        elif tag in (_W + "p", _W + "tbl", _W + "tr", _W + "tc"):
            yield child


def _table_grid(tbl: etree._Element, meter: Meter) -> Grid:
    """The table's cells, merged ones expanded, spans clamped to the table's grid (its
    ``w:tblGrid`` columns): a crafted ``gridSpan`` cannot ask for columns it has not."""
    spans: list[list] = []  # [row, col, rowspan, colspan, text]
    open_vertical: dict[int, list] = {}  # grid column -> the span a vMerge continues
    rows = [tr for tr in _content_children(tbl) if tr.tag == _W + "tr"]
    width = len(tbl.findall(f"{_W}tblGrid/{_W}gridCol")) or max(
        (sum(1 for x in _content_children(tr) if x.tag == _W + "tc") for tr in rows), default=1)
    for r, tr in enumerate(rows):
        tr_pr = tr.find(_W + "trPr")
        c = min(width, _int(_val(tr_pr.find(_W + "gridBefore")) if tr_pr is not None else None, 0))
        continued: set[int] = set()
        for tc in (x for x in _content_children(tr) if x.tag == _W + "tc"):
            tc_pr = tc.find(_W + "tcPr")
            colspan = max(1, _int(_val(tc_pr.find(_W + "gridSpan")) if tc_pr is not None else None, 1))
            colspan = min(colspan, max(1, width - c))
            meter.add_cells(colspan)
            vmerge = tc_pr.find(_W + "vMerge") if tc_pr is not None else None
            if vmerge is not None and _val(vmerge, "continue") != "restart" and c in open_vertical:
                span = open_vertical[c]
                span[2] = r - span[0] + 1
                continued.add(c)
            else:
                span = [r, c, 1, colspan, "\n".join(_cell_lines(tc, meter))]
                spans.append(span)
                if vmerge is not None:
                    open_vertical[c] = span
                    continued.add(c)
            c += colspan
        # A vertical merge ends at the first row that does not continue it.
        for col in list(open_vertical):
            if col not in continued:
                del open_vertical[col]
    return Grid.from_spans([tuple(s) for s in spans], meter)


def _check_unpacked(data: bytes, meter: Meter) -> None:
    """Inflate every member a chunk at a time, counting the bytes it really gives
    against the budget: a header may understate a member's size (zipfile then stops
    at the stated size and the CRC check fails, after a chunk, not gigabytes)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for info in z.infolist():
                meter.add_unpacked(0)
                with z.open(info) as member:
                    while chunk := member.read(1 << 20):
                        meter.add_unpacked(len(chunk))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, EOFError, ValueError) as exc:
        raise ExtractionError("docx_corrupt", f"the DOCX archive is damaged: {exc}") from exc


def read(data: bytes, meter: Meter | None = None) -> Document:
    import docx  # python-docx; imported here so that text-only use stays light

    meter = meter or DEFAULT.meter()
    _check_unpacked(data, meter)
    try:
        document = docx.Document(io.BytesIO(data))
        body = document.element.body
    except (zipfile.BadZipFile, KeyError, ValueError, etree.XMLSyntaxError, OSError) as exc:
        raise ExtractionError("docx_corrupt", f"the DOCX cannot be opened: {exc}") from exc
    except Exception as exc:  # python-docx raises its own types for broken packages
        raise ExtractionError("docx_corrupt", f"the DOCX cannot be opened: {type(exc).__name__}: {exc}") from exc
    builder = DocumentBuilder("docx", meter)
    try:
        props = document.core_properties
        builder.metadata["title"] = (props.title or "").strip()  # (not its creation date: a template's)
    except Exception:  # noqa: BLE001 - a damaged docProps part is no reason to refuse the text
        pass
    for block in _content_children(body):
        if block.tag == _W + "p":
            builder.paragraph(_paragraph_text(block))
        elif block.tag == _W + "tbl":
            builder.table(_table_grid(block, meter))
    return builder.build()
