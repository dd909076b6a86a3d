"""Which report this is: the agency, the reporting year, the title, the publication date.

Read from the report's head, where every report names itself
(``淮安市洪泽区人民政府2023年政府信息公开工作年度报告``, over one line or several, the
agency sometimes on a line of its own above, the year sometimes first), from a
crawler's header lines (``标题:`` / ``发布时间:``), from the statistical period
(``统计期限自2023年1月1日起``) when the title has no year, and from the signature at
the end (agency and date) or a ``发布日期`` line for the publication date; where the
text says nothing, the file's own title (HTML ``<title>``, PDF and DOCX properties) and
an HTML page's declared publication date.  The year is
the reporting year, never the publication date's.  Anything not found is None:
never guessed.

``agency_key`` groups one agency's reports across years and spellings: spaces and
full-width forms folded, and the higher-level places before a lower-level one dropped
(``淮安市洪泽区人民政府`` → ``洪泽区人民政府``, ``北京市朝阳区卫生健康委员会`` →
``朝阳区卫生健康委员会``); the full name is kept beside it.
"""

from __future__ import annotations

import re

from service.numbers import fold
from service.types import Document, ReportInfo, Span

#: How much of the text's start may hold the title.
HEAD_CHARS = 600
#: How much of the text's end may hold the signature.
TAIL_CHARS = 300

_TITLE = re.compile(
    r"(?P<before>[^\n。；]{0,60}?)[ \t　]*(?P<year>(?:19|20)\d{2})[ \t　]*年度?[ \t　]*"
    r"(?P<between>[^\n。；]{0,40}?)[ \t　]*政府信息公开(?:工作)?[ \t　]*(?:年度)?[ \t　]*(?:年度)?报告")
_PERIOD = re.compile(r"统计(?:期限|时限|周期|区间)[^。\n]{0,12}?((?:19|20)\d{2})\s*年\s*1\s*月\s*1\s*日")
_DATE = re.compile(r"((?:19|20)\d{2})\s*(?:年|-|/|\.)\s*(\d{1,2})\s*(?:月|-|/|\.)\s*(\d{1,2})\s*日?")
_PUBLISHED_LABEL = re.compile(r"(?:发布日期|发布时间|成文日期|印发日期)\s*[:：]\s*")
_HEAD_JUNK = re.compile(r"^(?:标题\s*[:：]|#+|正文|[\s\"“”《》【】\[\]()（）:：\-—·])+")
_AGENCY_CHARS = re.compile(r"[\u4e00-\u9fff（）()]{2,40}")
_PLACE_PREFIX = re.compile(r"^[\u4e00-\u9fff]{1,7}?(?:省|自治区|特别行政区|市|地区|盟|州)"
                           r"(?=[\u4e00-\u9fff]{1,7}?(?:市|区|县|旗|镇|乡|街道))")


def agency_key(name: str) -> str:
    """The grouping key of an agency name (see the module docstring)."""
    key = re.sub(r"\s+", "", fold(name))
    while True:
        m = _PLACE_PREFIX.match(key)
        if not m or len(key) - m.end() < 3:
            return key
        key = key[m.end():]


def _joined_head(text: str) -> tuple[str, list[int]]:
    """The first lines of the text run together (a title broken over lines), with the
    source offset of every character."""
    chars, offsets = [], []
    for i, ch in enumerate(text[:HEAD_CHARS]):
        if ch in "\r\n":
            continue
        chars.append(ch)
        offsets.append(i)
    return "".join(chars), offsets


def _span(offsets: list[int], start: int, end: int) -> Span:
    return Span(start=offsets[start], end=offsets[end - 1] + 1)


def _clean_agency(raw: str) -> str | None:
    raw = _HEAD_JUNK.sub("", raw.strip()).strip()
    runs = _AGENCY_CHARS.findall(raw)
    if not runs:
        return None
    name = runs[-1]  # the last run of name characters: what stands right before the year
    return name if len(name) >= 2 and not name.endswith(("关于", "公布", "发布")) else None


def identify(doc: Document) -> ReportInfo:
    """The report's agency, year, title and publication date (None where not stated)."""
    text = doc.text
    head, offsets = _joined_head(text)
    info = ReportInfo()
    title = _TITLE.search(head)
    if title:
        t_start = title.start() if title.group("before").strip() else title.start("year")
        junk = _HEAD_JUNK.match(head, t_start)
        if junk:
            t_start = junk.end()
        info.title = head[t_start:title.end()]
        info.spans["title"] = _span(offsets, t_start, title.end())
        info.year = int(title.group("year"))
        info.spans["year"] = _span(offsets, title.start("year"), title.end("year"))
        for part in ("before", "between"):
            name = _clean_agency(title.group(part))
            if name:
                at = head.rindex(name, title.start(part), title.end(part))
                info.agency = name
                info.spans["agency"] = _span(offsets, at, at + len(name))
                break
    if info.title is None and doc.metadata.get("title"):
        # the file's own title (an HTML <title>, PDF or DOCX properties): no span in the text
        title = _TITLE.search(doc.metadata["title"])
        if title:
            info.title = doc.metadata["title"][title.start():title.end()].strip()
            info.year = int(title.group("year"))
            info.agency = _clean_agency(title.group("before")) or _clean_agency(title.group("between"))
    if info.year is None:
        period = _PERIOD.search(text[:3000])
        if period:
            info.year = int(period.group(1))
            info.spans["year"] = Span(start=period.start(1), end=period.end(1))
    published = _PUBLISHED_LABEL.search(text[:HEAD_CHARS])
    date = _DATE.match(text, published.end()) if published else None
    if date is None:
        tail_start = max(0, len(text) - TAIL_CHARS)
        dates = list(_DATE.finditer(text, tail_start))
        # the signature's date: the last thing the report says
        date = dates[-1] if dates and not text[dates[-1].end():].strip(" \t\r\n）)") else None
    if date is not None:
        y, m, d = (int(g) for g in date.groups())
        if 1 <= m <= 12 and 1 <= d <= 31:
            info.published = f"{y:04d}-{m:02d}-{d:02d}"
            info.spans["published"] = Span(start=date.start(), end=date.end())
    if info.published is None and doc.metadata.get("date"):
        info.published = doc.metadata["date"]  # a page's declared publication date
    if info.agency:
        info.agency_key = agency_key(info.agency)
    return info

