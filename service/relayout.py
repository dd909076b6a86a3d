"""Lines laid out again where a text lost them.

A crawler's page text, a report pasted into a form or a converter that joins
lines gives the whole report on a few very long lines: section headings start
mid-line (``…工作指南。二、主动公开政府信息情况第二十条…``) and a table is one run of
labels and figures (``规章000行政规范性文件008…``).  The stages after this one read
lines, so here the report's own structure says where a line or a cell ends, and a
line break or a tab is *inserted* there.  Nothing is removed or changed: the
derived text is the input plus those characters, and ``Relaid.restore`` maps every
offset of an extraction back to the input.

Where a break goes:

- before a numbered section heading whose words read like one of the six section
  titles, and after those words;
- in a *table run*: a stretch where figures follow labels with no sentence between
  them (``label figures label figures …``), before each label, between a label and
  its figures, and after the figures; column-header words at the start of a label
  (``信息内容本年制发件数…``) are put on a line of their own, a tab between each; a
  row number inside a label starts a line, and a numbered row printed without
  figures (``…申请3.其他（七）总计 4 0 …``) ends with an empty cell;
- between two markdown rows whose line break was lost (``… | 713 ||---|…``).

Digits glued together (``0000000`` for seven cells) are left as they are: how to
split them is a question of the table's arithmetic (``service.tables.glued``).

Only lines of ``LONG_LINE`` characters or more are looked at, and short lines only
where at least ``MIN_GLUED_ROWS`` of them are a row label with its figures glued on
(a crawler's ``get_text()`` of an HTML table keeps one line per row but no cell
separators): there a tab goes before the figures and between header words.  A
report with its line breaks and cell separators is never changed.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field, replace

from rapidfuzz.fuzz import ratio

from service.tables.grid import next_row_label
from service.tables.headers import COLUMN_NAMES
from service.template import SECTION_VARIANTS
from service.types import Cell, Document, Extraction, Section, SourceTable

#: Lines shorter than this are taken as laid out already.
LONG_LINE = 100

# --- section headings ---------------------------------------------------------------

_HEADING_NUMBER = re.compile(
    r"(?:(?<![第一二三四五六七八九十])([一二三四五六七八九十]{1,2})|(?<![第.．])([1-9１-９]))[、.．]\s*(?=[\u4e00-\u9fff])")
_CN_NUMBERS = "一二三四五六七八九十"
_ALL_DIGITS = "0123456789０１２３４５６７８９"
#: How alike (rapidfuzz ratio, 0-100) the words after a number must be to a known
#: title of the section that number stands for, or (misnumbered) to any section's
#: title, for a break to be proposed; the section model still decides what is a heading.
TITLE_SIMILARITY = 72
OTHER_TITLE_SIMILARITY = 88
_TITLES = tuple((key, title) for key, titles in SECTION_VARIANTS.items() for title in titles)
_SECTION_BY_NUMBER = {i + 1: key for i, key in enumerate(SECTION_VARIANTS)}


def _title_end(text: str, at: int, number: int) -> int | None:
    """Where the section title starting at ``at`` ends, if the words there read like
    one (the longest reading of the best match)."""
    best, best_end = 0.0, None
    expected = _SECTION_BY_NUMBER.get(number)
    for key, title in _TITLES:
        need = TITLE_SIMILARITY if key == expected else OTHER_TITLE_SIMILARITY
        for length in range(max(2, len(title) - 3), len(title) + 5):
            piece = text[at:at + length]
            if len(piece) < length:
                break
            score = ratio(piece, title)
            if score < need:
                continue
            if score > best or (score == best and at + length > best_end):
                best, best_end = score, at + length
    return best_end


#: A title that does not read like a known one is still taken after the heading
#: before it (二、 then 三、) when it is at least this alike and ends where a title
#: does (a space, a figure, a bracket, a sentence mark) within ``MAX_TITLE`` characters.
NEXT_TITLE_SIMILARITY = 40
MAX_TITLE = 30
_TITLE_STOP = re.compile(r"[\s\d０-９（(。，；：:,;]")


def _next_title_end(text: str, at: int, number: int) -> int | None:
    stop = _TITLE_STOP.search(text, at, at + MAX_TITLE + 1)
    if stop is None or stop.start() - at < 2:
        return None
    titles = SECTION_VARIANTS.get(_SECTION_BY_NUMBER.get(number, ""), ())
    if not titles:
        return None
    if max(ratio(text[at:stop.start()], t) for t in titles) >= NEXT_TITLE_SIMILARITY:
        return stop.start()
    if stop.group().isspace() or stop.start() - at < 4:
        return None
    # no space after the title (all whitespace lost: 六、需要说明的其他事项与附表本年度无…。):
    # the title is the prefix most alike
    best, end = max((max(ratio(text[at:e], t) for t in titles), e) for e in range(at + 4, stop.start() + 1))
    return end if best >= NEXT_TITLE_SIMILARITY else None


def _heading_breaks(line: str) -> list[int]:
    """Offsets in ``line`` before which (and after whose title) a heading line starts."""
    breaks: list[int] = []
    last = 0  # the number of the last heading found
    for m in _HEADING_NUMBER.finditer(line):
        chinese, digit = m.groups()
        number = int(digit) if digit else _CN_NUMBERS.index(chinese) + 1 if len(chinese) == 1 else 0
        if digit and m.start() and line[m.start() - 1] in _ALL_DIGITS:
            number = 0  # glued to a figure before it (…0\t03、 政府信息公开…): only a close likeness counts
        end = _title_end(line, m.end(), number)
        if end is None and last and number == last + 1 and not (m.start() and line[m.start() - 1] in _ALL_DIGITS):
            # (after a figure, 104二、上年结转…, it is a table row's number)
            end = _next_title_end(line, m.end(), number)
        if end is not None:
            breaks += [m.start(), end]
            last = number
    return breaks


# --- table runs --------------------------------------------------------------------

#: A run of figures: numbers separated by nothing but spaces and tabs.
_RUN = re.compile(r"[0-9０-９](?:[0-9０-９.．]*[0-9０-９])?(?:[ \t\u3000\xa0]+[0-9０-９](?:[0-9０-９.．]*[0-9０-９])?)*")
#: Two or more figures, each with the unit a cell may print (政府集中采购 2笔 984361元):
#: one figure with its unit is a measure in a sentence, several in a row are cells.
_UNIT_CELLS = re.compile(r"(?:[0-9０-９][0-9０-９.．]*(?:万元|[元笔])[ \t\u3000\xa0]+)+[0-9０-９][0-9０-９.．]*(?:万元|[元笔])")
#: What after a figure makes it a measure in a sentence, not a table cell: a unit, or
#: the punctuation of a sentence going on or ending.
_UNIT_AFTER = re.compile(r"\s*(?:[条件个篇次项年月日号期人家户万亿余多名所批份场张册部类位台套处轮天时分秒岁倍%％‰:：\-—~～/A-Za-z"
                         r"。，；,;！？]|[.．][0-9０-９])")
#: What may stand just before a table cell: the end of its label.
_LABEL_END = re.compile(r"[\u4e00-\u9fff）)”」》]\s*$")
#: A generic column header that ends in a number (an OCR tool's 数据1 … 数据6), not a figure.
_NUMBERED_HEADER = re.compile(r"数据\s*[0-9０-９]{1,2}$")
#: A row number glued to the figures before it: ``00000002.其他…`` ends a run with ``2.``.
_ENUMERATOR_AFTER = re.compile(r"[.．、](?![0-9０-９])")
#: Where a label cannot reach back past: the end of a sentence or a clause.
_CLAUSE_MARK = "。；;！？!?，,：:"
#: A label longer than this between two runs is prose, not a row label.
MAX_LABEL = 90


def _header_vocabulary() -> re.Pattern:
    words = {w for names in COLUMN_NAMES.values() for syns in names.values() for w in syns if len(w) >= 2}
    words |= {"信息内容", "申请人情况", "本年收费金额（单位：万元）", "本年收费金额(单位:万元)", "本年增/减", "增/减"}
    # a header word may be printed with spaces inside it (结果 纠正, 商业 企业)
    alternatives = ["\\s*".join(map(re.escape, w)) for w in sorted(words, key=len, reverse=True)]
    group = r"第二十条第[（(][一二三四五六七八九十]+[）)]项"
    return re.compile(r"\s*(?:" + group + "|" + "|".join(alternatives) + r")")


_HEADER_WORD = _header_vocabulary()
#: A note in brackets before a table's header (（本列数据的勾稽关系为：…）); not a row
#: number such as （二）.
_BRACKETED = re.compile(r"\s*[（(][^（()）]{4,80}[）)]")


def _label_start(line: str, run_start: int, floor: int) -> tuple[int, bool]:
    """Where the label before a run starts (not before ``floor``), and whether it
    reached a clause mark (True) rather than ``floor``.  Clause marks inside
    brackets (（区分处理的，只计这一情形…）) do not end a label."""
    depth = 0
    i = run_start - 1
    while i >= floor:
        ch = line[i]
        if ch in "）)":
            depth += 1
        elif ch in "（(":
            depth = max(0, depth - 1)
        elif depth == 0 and ch in _CLAUSE_MARK:
            return i + 1, True
        i -= 1
    return floor, False


#: The title of a section that holds a table (tables 2–4), longest first.
_TABLE_TITLE = re.compile("|".join(re.escape(t) for t in sorted(
    (t for key, titles in SECTION_VARIANTS.items() if key in ("active_disclosure", "applications",
                                                               "review_litigation") for t in titles),
    key=len, reverse=True)))

#: Header words too common to start a header on their own (其他对外管理服务事项 is a
#: row label): they are peeled only after another header word.
_GENERIC_HEADER_WORDS = frozenset(w for names in COLUMN_NAMES.values() for syns in names.values()
                                  for w in syns if len(w) <= 2)


def _peel_headers(line: str, start: int, end: int) -> list[int]:
    """Header words (and bracketed notes) at the start of a label ``line[start:end]``:
    the offsets between them, and where the row label proper starts (``end`` when
    the label is all header words)."""
    cuts: list[int] = []
    pos = start
    title = _TABLE_TITLE.match(line, pos, end)
    if title and _HEADER_WORD.match(line, title.end(), end):
        # a table's section title without its number, run into the header after it
        # (主动公开政府信息情况第二十条第（一）项…): a line of its own
        pos = title.end()
        cuts.append(pos)
    while pos < end:
        m = _HEADER_WORD.match(line, pos, end) or _BRACKETED.match(line, pos, end)
        if m is None and cuts:
            artefact = _ARTEFACT.match(line, pos, end)
            if artefact:  # (between header words: it joins the next word's cell)
                pos = artefact.end()
                continue
        if m is None or m.end() == pos:
            break
        if not cuts and re.sub(r"\s", "", m.group()) in _GENERIC_HEADER_WORDS:
            break
        pos = m.end()
        cuts.append(pos)
    return cuts


#: A leaf row's number (1. 2、), which rows with figures of their own carry; a group's
#: （三） or 三、 may stand alone over its rows.
_LEAF_NUMBER = re.compile(r"\s*[1-9][.．、]")
#: The number of a table row inside a label: （七）, 3., 四、 (not 第（一）项).
_ROW_NUMBER = re.compile(r"(?<!第)[（(][一二三四五六七八九十]{1,2}[）)]|(?<![\d.．])[1-9][.．、](?=[\u4e00-\u9fff])"
                         r"|(?<![一二三四五六七八九十])[一二三四五六七八九十]{1,2}、")


@dataclass
class _Run:
    start: int
    end: int
    label: int          # where its label starts
    after_clause: bool  # the label reaches back to a clause mark, not to another run


#: A converter's artefact ([bookmark: _Hlk67039688]): its digits are no figures.
_ARTEFACT = re.compile(r"\[bookmark:[^\]]*\]")


def _runs(line: str) -> list[re.Match]:
    """Runs of figures in ``line``: bare figures, or figures that each print a unit."""
    if "元" not in line and "笔" not in line:
        return list(_RUN.finditer(line))
    with_units = list(_UNIT_CELLS.finditer(line))
    return sorted([m for m in _RUN.finditer(line)
                   if not any(u.start() <= m.start() < u.end() for u in with_units)] + with_units,
                  key=lambda m: m.start())


def _table_runs(line: str, floors: list[int]) -> list[_Run]:
    """The runs of figures in ``line`` that read as table cells."""
    runs: list[_Run] = []
    prev_end = 0
    artefacts = [m.span() for m in _ARTEFACT.finditer(line)] if "[bookmark:" in line else []
    for m in _runs(line):
        start, end = m.start(), m.end()
        inside = next((b for a, b in artefacts if a <= start < b), None)
        if inside is not None:  # its digits are a bookmark's name: the label goes on after it
            prev_end = inside
            continue
        if _ENUMERATOR_AFTER.match(line, end):
            # the last digit is the number of the next row's label (…0 002.其他…)
            end -= 1
            while end > start and line[end - 1].isspace():
                end -= 1
            if end <= start:
                continue
        if (_UNIT_AFTER.match(line, end) or not _LABEL_END.search(line, max(0, start - 4), start)
                or _NUMBERED_HEADER.search(line, max(0, start - 4), end)):
            prev_end = end
            continue
        floor = max(prev_end, floors[bisect_left(floors, start + 1) - 1] if floors else 0)
        label, after_clause = _label_start(line, start, floor)
        runs.append(_Run(start, end, label, after_clause or floor != prev_end))
        prev_end = end
    return runs


def _zones(runs: list[_Run], line: str) -> list[list[_Run]]:
    """Runs grouped into tables: a run whose label reaches back to the run before it
    (no clause between them) continues that run's table."""
    zones: list[list[_Run]] = []
    for run in runs:
        chained = (zones and not run.after_clause and run.start - run.label <= MAX_LABEL
                   and zones[-1][-1].end <= run.label)
        if chained:
            zones[-1].append(run)
        else:
            zones.append([run])
    return [z for z in zones if len(z) >= 3 or any(_peel_headers(line, r.label, r.start) for r in z)]


def _table_breaks(line: str, floors: list[int]) -> list[tuple[int, str]]:
    inserts: list[tuple[int, str]] = []
    for zone in _zones(_table_runs(line, floors), line):
        for run in zone:
            label = run.label
            while label < run.start and line[label].isspace():
                label += 1
            inserts.append((label, "\n"))
            cuts = _peel_headers(line, label, run.start)
            for cut in cuts[:-1]:
                inserts.append((cut, "\t"))
            if cuts:
                inserts.append((cuts[-1], "\n"))
            # rows printed without figures (…申请3.其他（七）总计 4 0 …) share this label:
            # each row number starts a line, as the rows of a table do
            row_start = cuts[-1] if cuts else label
            for m in _ROW_NUMBER.finditer(line, row_start + 1, run.start):
                # a numbered row printed without figures ends where the next row's number
                # starts: an empty cell there marks it a row
                blank_row = (_LEAF_NUMBER.match(line, row_start)
                             or next_row_label(line[row_start:m.start()], line[m.start():m.end()]))
                inserts.append((m.start(), "\t\n" if blank_row else "\n"))
                row_start = m.start()
            if cuts and not line[cuts[-1]:run.start].strip():
                pass  # all header words: the figures stand on a line of their own
            elif line[run.start - 1] != "\t":
                # a tab even after a space: the cell boundary is known, and a line with a
                # tab is a table row to every later stage, never running text
                inserts.append((run.start, "\t"))
            # the row ends after its figures and the blank cells (tabs) after them
            end = run.end
            while end < len(line) and line[end] == "\t":
                end += 1
            inserts.append((end, "\n"))
    return inserts


# --- the whole text ------------------------------------------------------------------


@dataclass
class Relaid:
    """A document laid out again, and the way back to the input's offsets."""

    doc: Document
    source: str
    inserted: list[int] = field(default_factory=list)  # offsets in ``doc.text`` of inserted characters
    before: list[int] = field(default_factory=list)  # the input offsets they were inserted before

    def to_source(self, offset: int) -> int:
        return offset - bisect_left(self.inserted, offset)

    def to_derived(self, offset: int) -> int:
        """Where the input's character at ``offset`` is in ``doc.text``."""
        return offset + bisect_left(self.before, offset + 1)

    def sections_to_derived(self, sections: list[Section]) -> list[Section]:
        """Sections of the input (a gold annotation's) in ``doc.text``'s offsets: what
        training reads, so that it sees the text as the stages do."""
        return [s.model_copy(update={"start": self.to_derived(s.start), "end": self.to_derived(s.end)})
                for s in sections]

    def restore(self, extraction: Extraction) -> Extraction:
        """``extraction`` (read from ``doc``) with every offset in the input's terms."""
        if not self.inserted:
            return extraction
        at = self.to_source
        for s in extraction.sections:
            s.start, s.end = at(s.start), at(s.end)
        extraction.provenance = {k: (at(a), at(b)) for k, (a, b) in extraction.provenance.items()}
        for m in extraction.metrics:
            m.start, m.end = at(m.start), at(m.end)
            m.text = self.source[m.start:m.end]
        for r in extraction.unrecognised_rows:
            r.start, r.end = at(r.start), at(r.end)
            r.text = self.source[r.start:r.end]
        for c in extraction.checks:
            c.spans = [(at(a), at(b)) for a, b in c.spans]
        return extraction


def relayout(doc: Document) -> Relaid:
    """``doc`` with line breaks and tabs inserted where its long lines need them."""
    text = doc.text
    inserts: list[tuple[int, str]] = []
    pos = 0
    glued_rows: list[tuple[int, str]] = []
    for line in text.split("\n"):
        if len(line) >= LONG_LINE:
            inserts += [(pos + p, c) for p, c in _line_inserts(line)]
        elif _GLUED_ROW.match(line):
            glued_rows.append((pos, line))
        pos += len(line) + 1
    if len(glued_rows) >= MIN_GLUED_ROWS:
        # a table whose rows kept their lines but lost their cell separators
        # (a crawler's get_text(): 规章000, 行政规范性文件3114)
        for at, line in glued_rows:
            inserts += [(at + p, c) for p, c in _glued_row_breaks(line)]
        pos = 0
        for line in text.split("\n"):
            inserts += [(pos + p, c) for p, c in _header_line_breaks(line)]
            pos += len(line) + 1
    if not inserts:
        return Relaid(doc, text)
    chars: dict[int, str] = {}
    for p, ch in inserts:  # at one place: an empty cell and a line break, else a line break, else a tab
        if _RANK[ch] > _RANK.get(chars.get(p, ""), -1):
            chars[p] = ch
    pieces, inserted, kept, last = [], [], [], 0
    for p, ch in sorted(chars.items()):
        if p <= 0 or p >= len(text) or text[p - 1] == "\n" or (ch == "\n" and text[p] == "\n"):
            continue  # a line already starts or ends there
        pieces += [text[last:p], ch]
        for _ in ch:
            inserted.append(p + len(kept))
            kept.append(p)
        last = p
    pieces.append(text[last:])
    derived = "".join(pieces)

    relaid = Relaid(doc, text, inserted, kept)
    tables = [_shift_table(t, relaid.to_derived) for t in doc.tables]
    relaid.doc = replace(doc, text=derived, tables=tables)
    return relaid


#: A short line that is a row label with its figures glued on (…数量2000002, 规章000).
_GLUED_ROW = re.compile(r"[^\t|。；;！？]{1,80}?[\u4e00-\u9fff）)”」》][0-9０-９][0-9０-９.．]*[ \u3000]*$")
#: How many such lines make a table of them (a line of prose may end so once).
MIN_GLUED_ROWS = 3


def _glued_row_breaks(line: str) -> list[tuple[int, str]]:
    """A tab between a glued row's label and its figures (a row number glued to the
    figures, …00000002.其他, stays with its label: it is the label's start)."""
    m = re.search(r"[0-9０-９][0-9０-９.．]*[ \u3000]*$", line)
    start = m.start()
    while start < len(line) and _NUMBER_DOT.match(line, start):
        start += 2  # a leading 1. or 2、 is the row's number, not a figure
    return [(start, "\t")] if start < len(line.rstrip()) else []


_NUMBER_DOT = re.compile(r"[0-9０-９][.．、](?![0-9０-９])")


def _header_line_breaks(line: str) -> list[tuple[int, str]]:
    """Tabs between the header words of a line made of nothing else."""
    stripped = line.rstrip()
    if not stripped or len(stripped) > 120:
        return []
    cuts = _peel_headers(line, 0, len(stripped))
    if not cuts or cuts[-1] != len(stripped):
        return []
    return [(cut, "\t") for cut in cuts[:-1]]


#: Where a markdown table's rows met when their line breaks were lost (or became a
#: space): the bar that closed a row and the bar (or a heading's #) that opened the next.
_MARKDOWN_ROW_JOIN = re.compile(r"\|(?=[ \u3000]?(?:\||#))")
#: A row whose cells are padded (``| 0 |``), or a ``|---|`` separator, closed by a bar
#: with text right after it: the line that followed (a torn label, a paragraph) lost
#: its line break.
_MARKDOWN_TEXT_JOIN = re.compile(r"(?<=[ \-:])\|(?=[^\s|\-:])")


#: What may be inserted at one place, the stronger first wins over the weaker.
_RANK = {"\t": 0, "\n": 1, "\t\n": 2}


def _line_inserts(line: str) -> list[tuple[int, str]]:
    headings = _heading_breaks(line)
    markdown = [(m.end(), "\n") for pattern in (_MARKDOWN_ROW_JOIN, _MARKDOWN_TEXT_JOIN)
                for m in pattern.finditer(line)] if "|" in line else []
    return [(p, "\n") for p in headings] + markdown + _table_breaks(line, sorted(set(headings)))


def _shift_table(table: SourceTable, shift) -> SourceTable:
    rows = [[Cell(c.text, shift(c.start), shift(c.end)) for c in row] for row in table.rows]
    return SourceTable(rows, shift(table.start), shift(table.end), set(table.spanned))
