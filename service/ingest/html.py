"""HTML: a saved report page.  Take the report body, tables as grids of cells.

Navigation, scripts, styles and link lists are dropped; the report body is the
smallest element that holds nearly all the page's non-link text.  ``<table>``
becomes a ``Grid`` through the DOM (rowspan/colspan expanded), except layout
tables (a table holding other tables or whole articles), whose cells are read
as ordinary content.
"""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

from service.budget import DEFAULT, Meter
from service.ingest.render import DocumentBuilder, Grid, drop_nuls, is_wide, metadata_date, nul_warning
from service.ingest.text import decode
from service.types import Document, ExtractionError

#: Elements that never hold report content.
_JUNK_TAGS = ("script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe",
              "template", "svg", "canvas", "button", "select", "textarea", "input", "object",
              "embed", "video", "audio", "map", "head", "title", "meta", "link")
#: class/id words of navigation chrome (whole words only: "article-header" is kept).
_JUNK_CLASS = re.compile(r"(?:^|[\s_-])(nav|navbar|menu|breadcrumbs?|crumbs?|sidebar|share|footer|"
                         r"copyright|toolbar|topbar|skip)(?:$|[\s_-])", re.I)
_BLOCK_TAGS = {"p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul",
               "ol", "dl", "dt", "dd", "blockquote", "pre", "center", "address", "figure", "figcaption",
               "hr", "tr", "td", "th", "caption", "fieldset", "legend", "body", "html"}
_INLINE_BREAK = {"br"}
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)
_SPACES = re.compile(r"[ \t\r\n\f\u00a0]+")


def _decode(data: bytes) -> str:
    """Decode with the page's declared charset when it is honest, else detect."""
    match = _CHARSET.search(data[:4096])
    if match:
        declared = match.group(1).decode("ascii", "ignore").lower()
        codec = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030"}.get(declared, declared)
        try:
            return data.decode(codec).removeprefix("\ufeff")
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong declaration is common; fall back to detection
    return decode(data).removeprefix("\ufeff")


def _collapse(text: str) -> str:
    """HTML white space: a run becomes one space, except a line break between two
    CJK characters, which disappears (CSS segment-break rule), so that
    ``在政\\n府网站`` reads ``在政府网站``."""

    def repl(m: re.Match) -> str:
        s, before, after = m.group(0), m.string[m.start() - 1: m.start()], m.string[m.end(): m.end() + 1]
        if ("\n" in s or "\r" in s) and before and after and is_wide(before) and is_wide(after):
            return ""
        return " "

    return _SPACES.sub(repl, text)


def _is_junk(el: etree._Element) -> bool:
    if not isinstance(el.tag, str):
        return True
    if el.tag.lower() in _JUNK_TAGS:
        return True
    if el.get("hidden") is not None or "display:none" in (el.get("style") or "").replace(" ", "").lower():
        return True
    names = f"{el.get('class') or ''} {el.get('id') or ''} {el.get('role') or ''}"
    return bool(names.strip()) and bool(_JUNK_CLASS.search(names)) or (el.get("role") or "") == "navigation"


def _strip_junk(root: etree._Element) -> None:
    for el in list(root.iter()):
        if el.getparent() is not None and (not isinstance(el.tag, str) or _is_junk(el)):
            el.drop_tree()


def _text_weights(root: etree._Element) -> dict[etree._Element, int]:
    """Characters of non-link text under every element (link lists are navigation)."""
    weights: dict[etree._Element, int] = {}

    def walk(el: etree._Element, in_link: bool) -> int:
        in_link = in_link or el.tag == "a"
        total = 0 if in_link else len((el.text or "").strip())
        for child in el:
            total += walk(child, in_link)
            if not in_link:
                total += len((child.tail or "").strip())
        weights[el] = total
        return total

    walk(root, False)
    return weights


def _report_body(root: etree._Element) -> etree._Element:
    """The deepest element holding at least 80% of the page's non-link text."""
    weights = _text_weights(root)
    total = weights.get(root, 0)
    node = root
    while True:
        heavy = [c for c in node if isinstance(c.tag, str) and weights.get(c, 0) >= 0.8 * total]
        if not heavy:
            return node
        node = heavy[0]


def _title_before(content: etree._Element) -> str | None:
    """The page's report title when it sits just outside the report body
    (``<h1 class="title">`` above ``<div class="content">``)."""
    if content.xpath(".//h1 | .//h2"):
        return None
    ancestor = content
    for _ in range(3):
        ancestor = ancestor.getparent()
        if ancestor is None:
            return None
        for heading in ancestor.xpath(".//h1 | .//h2 | .//h3"):
            text = _collapse(heading.text_content()).strip()
            if content not in heading.iterancestors() and 4 <= len(text) <= 100 and (
                    heading.getparent() is not None):
                # only a heading that precedes the body in document order
                if heading.sourceline is None or content.sourceline is None or \
                        heading.sourceline <= content.sourceline:
                    return text
    return None


def _cell_text(el: etree._Element) -> str:
    """A cell's text with its visual line breaks kept as newlines (joined later)."""
    out: list[str] = []

    def walk(e: etree._Element) -> None:
        tag = e.tag.lower() if isinstance(e.tag, str) else ""
        if tag in _INLINE_BREAK:
            out.append("\n")
        elif tag in _BLOCK_TAGS:
            out.append("\n")
        if e.text and tag:
            out.append(e.text)
        for child in e:
            walk(child)
            if child.tail:
                out.append(child.tail)
        if tag in _BLOCK_TAGS:
            out.append("\n")

    walk(el)
    return "\n".join(_collapse(part) for part in "".join(out).split("\n"))


def _span(value: str | None, limit: int) -> int:
    try:
        n = int(str(value).strip()) if value is not None else 1
    except ValueError:
        return 1
    return max(1, min(n, limit))


def _rows(table: etree._Element) -> list[etree._Element]:
    return table.xpath("./tr | ./thead/tr | ./tbody/tr | ./tfoot/tr")


def _is_layout_table(table: etree._Element) -> bool:
    """A table used to lay out the page rather than to hold data."""
    if table.xpath(".//table"):
        return True
    cells = table.xpath("./tr/td | ./tr/th | ./*/tr/td | ./*/tr/th")
    return len(cells) <= 1 or any(len(c.text_content()) > 400 for c in cells)


#: The most columns one HTML cell may span (the HTML standard's limit).
_MAX_COLSPAN = 1000


def _grid(table: etree._Element, meter: Meter) -> Grid:
    """The table's cells with their spans clamped to its real extent: a rowspan to the
    rows below it, a colspan to the HTML limit of 1000 and to the table's width (the
    widest row of two or more cells: a lone cell spanning a row, a title, does not
    set it); every cell counted against the budget as it is placed
    (``rowspan=200 colspan=200`` on every row stops at the budget, not at gigabytes)."""
    rows = _rows(table)
    cells_of = [tr.xpath("./td | ./th") for tr in rows]
    widths = [(len(cells) > 1, sum(_span(td.get("colspan"), _MAX_COLSPAN) for td in cells))
              for cells in cells_of]
    width = max(widths, default=(False, 1))[1]
    spans: list[tuple[int, int, int, int, str]] = []
    taken: set[tuple[int, int]] = set()
    for r, cells in enumerate(cells_of):
        c = 0
        for td in cells:
            while (r, c) in taken:
                c += 1
            rs = _span(td.get("rowspan"), len(rows) - r)
            cs = _span(td.get("colspan"), max(1, width - c))
            meter.add_cells(rs * cs)
            spans.append((r, c, rs, cs, _cell_text(td)))
            for rr in range(r, r + rs):
                for cc in range(c, c + cs):
                    taken.add((rr, cc))
            c += cs
    return Grid.from_spans(spans, meter)


class _Renderer:
    """Walks the report body in document order, feeding the builder."""

    def __init__(self, builder: DocumentBuilder, meter: Meter):
        self.builder = builder
        self.meter = meter
        self.pending: list[str] = []

    def flush(self) -> None:
        text = "".join(self.pending)
        self.pending = []
        for line in text.split("\n"):
            self.builder.paragraph(line)

    def walk(self, el: etree._Element) -> None:
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if tag == "table" and not _is_layout_table(el):
            self.flush()
            self.builder.table(_grid(el, self.meter))
            return
        block = tag in _BLOCK_TAGS or tag == "table"
        if block:
            self.pending.append("\n")
        elif tag in _INLINE_BREAK:
            self.pending.append("\n")
        if el.text:
            self.pending.append(_collapse(el.text))
        for child in el:
            self.walk(child)
            if child.tail:
                self.pending.append(_collapse(child.tail))
        if block:
            self.pending.append("\n")


def read(data: bytes, meter: Meter | None = None) -> Document:
    text = _decode(data)
    return from_str(text, meter)


#: The parser keeps elements nested deeper than libxml2's default of 256 levels (which
#: would silently drop the rest of the page), so that the depth budget can refuse them.
_PARSER = lxml.html.HTMLParser(huge_tree=True)


def _depth(root: etree._Element, meter: Meter) -> None:
    """The page's element nesting against the budget, measured without recursion."""
    depth = 0
    for event, _ in etree.iterwalk(root, events=("start", "end")):
        depth += 1 if event == "start" else -1
        if depth > meter.budget.depth:
            meter.check_depth(depth)


#: <meta> names a page's publication date goes by (CMS conventions).
_PUBLISHED_META = ("pubdate", "publishdate", "publish_date", "article:published_time", "firstpublishedtime",
                   "dc.date", "dcterms.issued", "date")


def _metadata(root: etree._Element) -> dict[str, str]:
    """The page's <title> and publication date <meta>, before the head is dropped."""
    out: dict[str, str] = {}
    title = root.find(".//title")
    if title is not None and title.text_content().strip():
        out["title"] = _collapse(title.text_content()).strip()
    for meta in root.iter("meta"):
        name = (meta.get("name") or meta.get("property") or "").strip().lower()
        if name in _PUBLISHED_META and (date := metadata_date(meta.get("content"))):
            out["date"] = date
            break
    return out


def from_str(text: str, meter: Meter | None = None) -> Document:
    meter = meter or DEFAULT.meter()
    # lxml refuses str input that declares an encoding; the text is decoded already.
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    text, nuls = drop_nuls(text)  # (lxml refuses them)
    if not text.strip():
        raise ExtractionError("empty", "the HTML page is empty")
    try:
        root = lxml.html.document_fromstring(text, parser=_PARSER)
    except (etree.ParserError, ValueError) as exc:
        raise ExtractionError("html_unreadable", f"the HTML cannot be parsed: {exc}") from exc
    _depth(root, meter)
    metadata = _metadata(root)
    body = root.find("body")
    if body is None:
        body = root
    _strip_junk(body)
    content = _report_body(body)
    builder = DocumentBuilder("html", meter)
    builder.metadata.update(metadata)
    if nuls:
        builder.warnings.append(nul_warning(nuls, "page"))
    title = _title_before(content)
    if title:
        builder.paragraph(title)
    renderer = _Renderer(builder, meter)
    renderer.walk(content)
    renderer.flush()
    return builder.build()
