"""The consistency audit (勾稽关系): rules evaluated over one extraction.

Every rule yields ``Check`` entries with a stable dotted ``rule`` name, the
``scope`` it was tested on, ``ok`` (True pass, False fail, None not evaluable),
``expected`` / ``found`` (so ``found - expected`` is the discrepancy), a
readable ``detail``, the dotted keys of the figures involved (``cells``) and
their source spans (``spans``: table cells from ``extraction.provenance``,
prose figures from the metric's start/end; a cell without provenance has no
span, so ``spans`` is not always parallel to ``cells``).

Table rules (always emitted, one per column / row / group; a missing table
gives one ``ok: None`` check per rule family with scope ``all``):

- ``applications.balance`` (scope = column): new_received + carried_over
  (expected) = results_total + carried_forward (found).
- ``applications.results_total`` (scope = column): the sum of the result rows
  (expected; 21 rows in the 2021 layout, 19 with ``other_handling`` in 2019)
  = results_total (found).
- ``applications.row_total`` (scope = row): the sum of the six applicant
  columns (expected) = total (found).
- ``review_litigation.group_total`` (scope = group): maintained + corrected +
  other + pending (expected) = total (found).

A blank, dash, ``无`` or otherwise non-numeric cell, or a missing row, makes the
rule ``ok: None`` with the reason: such a cell is never read as 0, so a rule is
never passed on a guess.

Narrative rules (emitted only when the prose states the figure; scope = the
table figure compared, e.g. ``new_received.total``; expected = the table's
figure, found = the prose figure; ``ok: None`` when that table or cell is
missing or blank):

- ``narrative.applications_received`` vs ``applications.new_received.total``.
  Prose that says 受理 N 件 sometimes counts the applications carried over from
  last year as well, so a prose figure equal to new_received + carried_over
  (with carried_over > 0) also passes, and the detail says so.
- ``narrative.applications_carried_over`` vs ``applications.carried_over.total``.
- ``narrative.applications_completed`` vs ``applications.results_total.total``
  (the applications handled this year).
- ``narrative.licensing_decisions`` / ``narrative.penalty_decisions`` vs table 2
  ``licensing.decisions`` / ``penalty.decisions`` (both layouts).
- ``narrative.normative_documents_issued`` vs table 2
  ``normative_documents.issued`` (2019 layout: ``made``).
- ``narrative.review_cases`` vs ``review_litigation.review.total``;
  ``narrative.litigation_cases`` vs litigation_direct.total +
  litigation_after_review.total.
- ``fee_collected`` has no rule: it is the information-processing fee (信息处理费),
  which no table carries (table 2's 行政事业性收费 is a different figure).

A figure stated twice in prose is deduplicated by value: every distinct value
gets one check carrying the spans of all its mentions, so a report that repeats
a figure consistently is checked once, and a mention that disagrees with the
others gets a check of its own.

- ``narrative.no_review_litigation`` (scope = group): a sentence in the
  overview or review sections (the whole text when neither was found) stating that there was no administrative review
  and/or litigation (全年无涉及…行政复议、行政诉讼, 未收到任何…行政复议或行政诉讼案件,
  未发生…行政复议) against table 4.  Only an existence negator (无, 没有, 未发生,
  未收到, 不存在 …) placed *before* the noun in the same clause counts; 未经复议,
  尚未审结, 无法, 无一 and negations of an outcome (未被纠错的行政复议) do not.
  A review noun covers group ``review``; a litigation noun covers both
  litigation groups.  expected = 0, found = the most the table shows for the
  group (its total, or the sum of its parts if larger).
- ``narrative.published_total`` (scope = ``all#<n>``, the n-th ``all`` figure
  of the report in text order): a published_items metric with channel ``all``
  against the channel figures stated in the same paragraph (a hard-wrapped
  paragraph counts as one): those between it and the next ``all`` figure, or
  the ones before it when none follow.  A (channel, value) pair repeated in the
  passage counts once.  Units are not compared: reports count the same items
  in 条, 篇 and 个 (videos) within one sum.
  Pass: the parts nearest the total add up to it (figures after them, such as
  a video count after a semicolon, are then not part of it; a total written
  as 1.2万 is matched within its rounding).  Fail: the parts add up to MORE
  than the total and no run of them matches it: the shares of a whole cannot
  exceed it.  ``ok: None`` when they add up to LESS (reports often list only
  the main channels, so a shortfall is no evidence of an error, but no pass
  either) or when the total is approximate (1,000余条).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable

from pydantic import TypeAdapter

from service.numbers import fold
from service.template import (
    APPLICANT_COLUMNS,
    OTHER_HANDLING_2019,
    RESULT_ROWS_2019,
    RESULT_ROWS_2021,
    REVIEW_COLUMNS,
    REVIEW_GROUPS,
)
from service.types import AuditSummary, Check, Extraction, Metric

TOL = 1e-6
#: The rules build plain dicts of a ``Check``'s fields; ``run_checks`` validates them all
#: in one call (a third of the cost of constructing the models one by one).  Their
#: ``spans`` must be lists of (int, int) tuples: run_checks does not validate them.
CheckFields = dict
_CHECK_LIST = TypeAdapter(list[Check])
APPLICANT_PARTS = APPLICANT_COLUMNS[:-1]  # the six applicant kinds, without total
REVIEW_PARTS = REVIEW_COLUMNS[:-1]  # maintained, corrected, other, pending


# --- reading cells ------------------------------------------------------------


#: One table cell as the rules read it: (dotted key, source span or None, value when
#: usable, why it is not usable or ''). A plain tuple: a report has about 200 of them.
Cell = tuple[str, "tuple[int, int] | None", "float | None", str]


class _Cells:
    """Cell lookup over one extraction, with the reason a cell cannot be used.

    Each cell is resolved once (its dotted key, span, value or problem), kept per row:
    the rules read most table 3 cells three times.
    """

    def __init__(self, extraction: Extraction):
        self.tables = extraction.tables or {}
        self.provenance = extraction.provenance or {}
        self._rows: dict[tuple[str, str], dict[str, Cell]] = {}
        # cells left unknown because their figures were glued together: said so, not "blank"
        self.unsettled = {f.cell: _unsettled_reason(f) for f in extraction.cell_flags or []
                          if f.reason == "ambiguous_split"}

    def has_table(self, table: str) -> bool:
        return bool(self.tables.get(table))

    def value(self, table: str, row: str, col: str) -> tuple[float | None, str]:
        """(value, '') for a numeric cell, else (None, why it cannot be used)."""
        cols = (self.tables.get(table) or {}).get(row)
        if not isinstance(cols, dict):
            return None, f"missing row {table}.{row}"
        return _cell_value(cols, table, row, col)

    def span(self, key: str) -> tuple[int, int] | None:
        span = self.provenance.get(key)
        return (int(span[0]), int(span[1])) if span else None

    def row(self, table: str, row: str, cols: Iterable[str]) -> dict[str, Cell]:
        """The cells of one row by column, at least ``cols`` (each resolved once)."""
        resolved = self._rows.get((table, row))
        if resolved is None:
            resolved = self._rows[(table, row)] = {}
        missing = [col for col in cols if col not in resolved]
        if not missing:
            return resolved
        row_cells = (self.tables.get(table) or {}).get(row)
        if not isinstance(row_cells, dict):
            row_cells, why = None, f"missing row {table}.{row}"
        keys, provenance = _row_keys(table, row), self.provenance
        for col in missing:
            key = keys.get(col) or keys.setdefault(col, f"{table}.{row}.{col}")
            span = provenance.get(key)
            # (the table stage gives (int, int) tuples already: run_checks does not validate spans)
            if span and not (type(span) is tuple and len(span) == 2
                             and type(span[0]) is int and type(span[1]) is int):
                span = (int(span[0]), int(span[1]))
            if row_cells is None:
                v = None
            else:
                v = row_cells.get(col)
                # the common case, a number, without _cell_value's tests
                v, why = (v, "") if type(v) is int or type(v) is float else \
                    _cell_value(row_cells, table, row, col)
            if why and key in self.unsettled:
                why = self.unsettled[key]
            resolved[col] = (key, span or None, v, why)
        return resolved

    def rows(self, table: str, rows: Iterable[str], cols: Iterable[str]) -> dict[str, dict[str, Cell]]:
        """``row`` of several rows, for rules that read the same cells by row and by column."""
        cols = tuple(cols)
        return {r: self.row(table, r, cols) for r in rows}

    def gather(self, table: str, keys: Iterable[tuple[str, str]]
               ) -> tuple[list[float], list[str], list[tuple[int, int]], list[str]]:
        """Values, dotted keys, spans and problems of several cells."""
        return _split([self.row(table, row, (col,))[col] for row, col in keys])


def _split(cells: Iterable[Cell]) -> tuple[list[float], list[str], list[tuple[int, int]], list[str]]:
    """Values (of the usable cells), dotted keys, spans (of the cells that have one) and
    problems of several cells, each in the cells' order."""
    values, keys, spans, problems = [], [], [], []
    for key, span, value, problem in cells:
        keys.append(key)
        if span:
            spans.append(span)
        if problem:
            problems.append(problem)
        else:
            values.append(value)
    return values, keys, spans, problems


#: Dotted cell keys by table and row, then column: shared by all extractions (the
#: rules name template cells only, so this stays small).
_KEYS: dict[tuple[str, str], dict[str, str]] = {}
_ABSENT = object()


def _row_keys(table: str, row: str) -> dict[str, str]:
    keys = _KEYS.get((table, row))
    if keys is None:
        keys = _KEYS[(table, row)] = {}
    return keys


def _unsettled_reason(flag) -> str:
    if flag.candidates:
        return (f"{flag.cell} is unknown: its figures are glued together ({flag.raw}) and could be "
                f"{' or '.join(_num(c) for c in flag.candidates)}")
    return (f"{flag.cell} is unknown: its figures are glued together ({flag.raw}) and no cut into the "
            f"row's cells adds up, so the row either does not add up as printed or has blank cells")


def _cell_value(cols: dict, table: str, row: str, col: str) -> tuple[float | None, str]:
    """(value, '') of cell ``col`` of a row, else (None, why it cannot be used)."""
    v = cols.get(col, _ABSENT)
    if v is _ABSENT:
        return None, f"missing cell {table}.{row}.{col}"
    if v is None or (isinstance(v, str) and not v.strip()):
        return None, f"blank cell {table}.{row}.{col}"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None, f"non-numeric cell {table}.{row}.{col} ({v!r})"
    return v, ""


def _num(v: float) -> str:
    if type(v) is int:
        return str(v)
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return f"{v:g}" if isinstance(v, float) else str(v)


def _equal(a: float, b: float) -> bool:
    return abs(a - b) < TOL


def _unknown(rule: str, scope: str, reason: str, cells: list[str],
             spans: list[tuple[int, int]]) -> CheckFields:
    return CheckFields(rule=rule, scope=scope, ok=None, detail=reason, cells=cells, spans=spans)


def _reasons(problems: list[str]) -> str:
    shown = "; ".join(problems[:3])
    return shown + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else "")


def _off_by(expected: float, found: float) -> str:
    diff = found - expected
    return f"off by {'+' if diff > 0 else ''}{_num(diff)}"


# --- table 3 -------------------------------------------------------------------


def result_rows(extraction: Extraction) -> tuple[str, ...]:
    """The rows whose sum is results_total under this extraction's layout.

    The layout decides, except that a table read as 2021 which carries only the
    2019 ``other_handling`` row (or the reverse) is summed by the rows it has.
    """
    rows = (extraction.tables or {}).get("applications") or {}
    has_2019 = OTHER_HANDLING_2019[0] in rows
    has_2021 = any(k in rows for k in RESULT_ROWS_2021 if k.startswith("other_"))
    if extraction.layout == "2019":
        return RESULT_ROWS_2021 if has_2021 and not has_2019 else RESULT_ROWS_2019
    return RESULT_ROWS_2019 if has_2019 and not has_2021 else RESULT_ROWS_2021


def application_rows(extraction: Extraction) -> tuple[str, ...]:
    """Every table 3 row the layout has, in template order."""
    results = result_rows(extraction)
    head = ("new_received", "carried_over")
    tail = ("results_total", "carried_forward")
    return head + results + tail


def check_applications(cells: _Cells, extraction: Extraction) -> list[CheckFields]:
    t = "applications"
    if not cells.has_table(t):
        reason = "table 3 (applications) was not found"
        return [_unknown(rule, "all", reason, [], []) for rule in
                ("applications.balance", "applications.results_total", "applications.row_total")]
    out: list[CheckFields] = []
    results = result_rows(extraction)
    rows = application_rows(extraction)
    grid = cells.rows(t, rows, APPLICANT_COLUMNS)
    new_received, carried_over = grid["new_received"], grid["carried_over"]
    results_total, carried_forward = grid["results_total"], grid["carried_forward"]

    for col in APPLICANT_COLUMNS:
        rule = "applications.balance"
        # (one pass over the four cells: left-hand side first, as keys and spans are listed)
        values, keys, spans, problems = _split(
            [new_received[col], carried_over[col], results_total[col], carried_forward[col]])
        if problems:
            out.append(_unknown(rule, col, _reasons(problems), keys, spans))
            continue
        received, carried, total, forward = values
        expected, found = sum(values[:2]), sum(values[2:])
        ok = _equal(expected, found)
        detail = (f"{_num(received)} + {_num(carried)} = {_num(total)} + {_num(forward)}" if ok else
                  f"new_received {_num(received)} + carried_over {_num(carried)} = {_num(expected)}, "
                  f"but results_total {_num(total)} + carried_forward {_num(forward)} = "
                  f"{_num(found)} ({_off_by(expected, found)})")
        out.append(CheckFields(rule=rule, scope=col, ok=ok, expected=expected, found=found, detail=detail,
                               cells=keys, spans=spans))

    result_grid = [grid[r] for r in results]
    for col in APPLICANT_COLUMNS:
        rule = "applications.results_total"
        values, keys, spans, problems = _split([r[col] for r in result_grid] + [results_total[col]])
        if problems:
            out.append(_unknown(rule, col, _reasons(problems), keys, spans))
            continue
        part_v, found = values[:-1], values[-1]
        expected = sum(part_v)
        ok = _equal(expected, found)
        nonzero = [f"{r} {_num(v)}" for r, v in zip(results, part_v) if v]
        terms = " + ".join(nonzero) if nonzero else "all zero"
        detail = (f"sum of {len(results)} result rows ({terms}) = {_num(expected)}, "
                  f"results_total = {_num(found)}")
        if not ok:
            detail += f" ({_off_by(expected, found)})"
        out.append(CheckFields(rule=rule, scope=col, ok=ok, expected=expected, found=found, detail=detail,
                               cells=keys, spans=spans))

    for row in rows:
        out.append(_row_sum_check("applications.row_total", row, grid[row], APPLICANT_PARTS))
    return out


def _row_sum_check(rule: str, row: str, row_cells: dict[str, Cell],
                   parts: tuple[str, ...] | list[str]) -> CheckFields:
    """One row's ``total`` column against the sum of its ``parts`` columns."""
    values, keys, spans, problems = _split([row_cells[c] for c in parts] + [row_cells["total"]])
    if problems:
        return _unknown(rule, row, _reasons(problems), keys, spans)
    part_v, found = values[:-1], values[-1]
    expected = sum(part_v)
    ok = _equal(expected, found)
    detail = " + ".join(map(_num, part_v)) + f" = {_num(expected)}, total = {_num(found)}"
    if not ok:
        detail += f" ({_off_by(expected, found)})"
    return CheckFields(rule=rule, scope=row, ok=ok, expected=expected, found=found, detail=detail,
                       cells=keys, spans=spans)


# --- table 4 -------------------------------------------------------------------


def check_review_litigation(cells: _Cells) -> list[CheckFields]:
    t, rule = "review_litigation", "review_litigation.group_total"
    if not cells.has_table(t):
        return [_unknown(rule, "all", "table 4 (review_litigation) was not found", [], [])]
    grid = cells.rows(t, REVIEW_GROUPS, REVIEW_COLUMNS)
    return [_row_sum_check(rule, group, grid[group], REVIEW_PARTS) for group in REVIEW_GROUPS]


# --- narrative against tables --------------------------------------------------

#: Prose metric type -> (table, [(row, column)] summed) per layout.  The
#: figures the report states both in prose and in a table.
NARRATIVE_TARGETS: dict[str, dict[str, tuple[str, tuple[tuple[str, str], ...]]]] = {
    "applications_received": {
        "*": ("applications", (("new_received", "total"),))},
    "applications_carried_over": {
        "*": ("applications", (("carried_over", "total"),))},
    "applications_completed": {
        "*": ("applications", (("results_total", "total"),))},
    "licensing_decisions": {
        "*": ("active_disclosure", (("licensing", "decisions"),))},
    "penalty_decisions": {
        "*": ("active_disclosure", (("penalty", "decisions"),))},
    "normative_documents_issued": {
        "2021": ("active_disclosure", (("normative_documents", "issued"),)),
        "2019": ("active_disclosure", (("normative_documents", "made"),))},
    "review_cases": {
        "*": ("review_litigation", (("review", "total"),))},
    "litigation_cases": {
        "*": ("review_litigation", (("litigation_direct", "total"),
                                    ("litigation_after_review", "total")))},
}


def _metric_key(m: Metric) -> str:
    return f"metrics.{m.type}" + (f".{m.channel}" if m.channel else "")


def _quote(metrics: list[Metric]) -> str:
    return " / ".join(f"「{m.text}」" for m in metrics)


#: A prose figure is held against a table (or against other prose figures) only when
#: the metric model is at least this sure what it counts; a less certain figure leaves
#: the check unknown.  ``python -m training.tune_audit --corpus corpus --corpus
#: ../shared/real`` measures it on held-out reads of every report and its shapes: the
#: highest false alarm was at 0.812 (更新各类政务信息658条, a platform's count, read as
#: the agency's total), and 0.85 keeps a margin above it.
NARRATIVE_MIN_CONFIDENCE = 0.85


def _uncertain(metrics: list[Metric], threshold: float) -> str | None:
    """Why these figures are not certain enough to compare, or None when they are."""
    low = min((m.confidence for m in metrics if m.confidence is not None), default=None)
    if low is None or low >= threshold:
        return None
    return (f"what the prose figure counts is not certain (confidence {low:.2f} < "
            f"{threshold}), so it is not compared")


#: Metric types whose prose figure may be a category of published items
#: (行政许可类信息4条) while the table counts decisions made.
_DECISION_TYPES = ("licensing_decisions", "penalty_decisions")
_DECISION_WORDS = re.compile(r"决定|作出|办理|办结|审批|案件|立案")


def _other_measure(mtype: str, group: list[Metric]) -> bool:
    """Whether a prose figure that differs from table 2 may count something else: it
    is worded as a category of published information (…类信息, …类37条) and not as
    decisions.  Equal figures still pass; different ones are then not a fault."""
    return mtype in _DECISION_TYPES and all("类" in m.text and not _DECISION_WORDS.search(m.text)
                                            for m in group)


def check_narrative_figures(cells: _Cells, extraction: Extraction,
                            min_confidence: float = NARRATIVE_MIN_CONFIDENCE) -> list[CheckFields]:
    out: list[CheckFields] = []
    layout = extraction.layout if extraction.layout in ("2021", "2019") else "2021"
    for mtype, targets in NARRATIVE_TARGETS.items():
        mentions = [m for m in extraction.metrics if m.type == mtype]
        if not mentions:
            continue
        table, keys = targets.get(layout) or targets["*"]
        rule = f"narrative.{mtype}"
        scope = "+".join(f"{r}.{c}" for r, c in keys)
        by_value: dict[float, list[Metric]] = {}
        for m in sorted(mentions, key=lambda m: m.start):
            by_value.setdefault(float(m.value), []).append(m)
        values, tcells, tspans, problems = cells.gather(table, keys)
        if not cells.has_table(table):
            problems = [f"table {table} was not found"]
        for value, group in by_value.items():
            mcells = [_metric_key(m) for m in group[:1]]
            mspans = [(m.start, m.end) for m in group]
            found = group[0].value
            uncertain = _uncertain(group, min_confidence)
            if uncertain:
                out.append(_unknown(rule, scope, f"the prose states {_num(found)} {_quote(group)}; {uncertain}",
                                    tcells + mcells, tspans + mspans))
                continue
            if problems:
                out.append(_unknown(rule, scope, f"the prose states {_num(found)} {_quote(group)}, "
                                    f"but {_reasons(problems)}", tcells + mcells, tspans + mspans))
                continue
            expected = sum(values)
            ok = _equal(expected, value)
            table_desc = " + ".join(f"{table}.{r}.{c}" for r, c in keys)
            detail = f"prose {_num(found)} {_quote(group)}, table {table_desc} = {_num(expected)}"
            if not ok and mtype == "applications_received":
                carried, why = cells.value("applications", "carried_over", "total")
                if not why and carried and _equal(expected + carried, value):
                    ok = True
                    detail += (f"; the prose figure equals new_received + carried_over "
                               f"({_num(expected)} + {_num(carried)}): it counts carried-over applications")
                    span = cells.span("applications.carried_over.total")
                    tcells = tcells + ["applications.carried_over.total"]
                    tspans = tspans + ([span] if span else [])
            if not ok and _other_measure(mtype, group):
                ok = None
                detail += ("; the prose counts a category of published information, the table "
                           "decisions made: different measures, not compared")
            elif not ok:
                detail += f" ({_off_by(expected, found)})"
            out.append(CheckFields(rule=rule, scope=scope, ok=ok, expected=expected, found=found,
                             detail=detail, cells=tcells + mcells, spans=tspans + mspans))
    return out


# Statements that there was no administrative review / litigation.  An
# existence negator must come before the noun in the same clause.
_CLAUSE_SPLIT = re.compile(r"[，,。；;！!？?\n]")
_NEGATOR = re.compile(
    r"(?:没有|无(?!法|论|正当|缝|纸|偿|障碍|一|关|需|误|效|意)|不存在|不涉及"
    r"|未(?:发生|收到|出现|产生|接到|有|涉及|曾|被(?:申请|提起|起诉)|因))")
_OUTCOME = re.compile(r"纠错|纠正|败诉|撤销|确认违法|审结|维持|驳回")
_NOUN = re.compile(r"复议后起诉|未经复议|复议|诉讼|起诉")
_ZERO_AFTER = re.compile(r"(?:复议|诉讼)(?:案件|情况|事项)?(?:数量|数)?(?:均|都)?(?:为|是|：|:)\s*(?:0|零|无)"
                         r"\s*(?:件|起|宗|次|个)?\s*$")


#: A line shorter than this that ends without punctuation is a heading, not wrapped prose.
_MIN_WRAPPED_LINE = 20
_SENTENCE_END = "。！？!?；;：:"
#: Lines that may be wrapped: at least _MIN_WRAPPED_LINE characters from the first
#: non-space one without a tab or line break (a cheap necessary test, found at C speed
#: from the line break before the line; ``_wraps`` decides).
_LONG_LINE_AFTER_BREAK = re.compile(rf"\n(?=[^\S\n\t]*+\S[^\n\t]{{{_MIN_WRAPPED_LINE - 1}}})")


def _wraps(text: str, line_start: int, nl: int, end: int) -> bool:
    """Whether the line break ``nl`` (ending the line that starts at ``line_start``) wraps
    a sentence: the line before it does not end one, is not as short as a heading, and
    neither line is a tab-separated table row (the line after it is read up to ``end``)."""
    next_end = text.find("\n", nl + 1)
    before = text[line_start:nl].rstrip()
    after = text[nl + 1:end if next_end < 0 else min(next_end, end)]
    return bool(len(before.strip()) >= _MIN_WRAPPED_LINE and after.strip() and before[-1] not in _SENTENCE_END
                and "\t" not in before and "\t" not in after)


class _Offsets:
    """Source offset of each character of an unwrapped text: ``where[i]``.  Kept as the
    runs copied (joined offset, source offset) rather than one entry per character."""

    def __init__(self) -> None:
        self.joined: list[int] = []
        self.source: list[int] = []

    def __getitem__(self, i: int) -> int:
        k = bisect.bisect_right(self.joined, i) - 1
        return self.source[k] + i - self.joined[k]


def _unwrapped(text: str, start: int, end: int) -> tuple[str, _Offsets]:
    """text[start:end] with hard line breaks removed, and the source offset of each character.

    A line break inside a sentence (the line before it does not end in 。；：！？, is not
    blank or as short as a heading, and neither line is a tab-separated table row) is a
    wrap, not a boundary.
    """
    # Only lines long enough to be wrapped are looked at; the text between the wrapping
    # line breaks is copied as it is.
    chars: list[str] = []
    where = _Offsets()
    length = 0
    pos = start
    line_start = text.rfind("\n", 0, start) + 1
    # the lines long enough to be wrapped: the one holding ``start``, and those after a break
    long_lines = [line_start] if line_start == 0 else []
    long_lines += [m.end() for m in _LONG_LINE_AFTER_BREAK.finditer(text, max(line_start - 1, 0), end)]
    for line in long_lines:
        nl = text.find("\n", line, end)
        if nl < 0 or not _wraps(text, line, nl, end):
            continue
        # a wrap: drop the line break, the next line continues the run after a jump
        chars.append(text[pos:nl])
        where.joined.append(length)
        where.source.append(pos)
        length += nl - pos
        pos = nl + 1
    chars.append(text[pos:end])
    where.joined.append(length)
    where.source.append(pos)
    return "".join(chars), where


def no_review_statements(text: str, start: int = 0, end: int | None = None
                         ) -> list[tuple[int, int, set[str]]]:
    """Clauses in text[start:end] stating there was no review and/or litigation.

    Returns (clause start, clause end, covered groups); a clause may run over a hard
    line break (全年未发生因政府信息\n公开引发的行政复议和行政诉讼).
    """
    end = len(text) if end is None else end
    found: list[tuple[int, int, set[str]]] = []
    # No clause can name a review or a litigation: not even with every line break
    # removed (unwrapping removes only some) does the text hold such a noun.
    if not _NOUN.search(text[start:end].replace("\n", "")):
        return found
    joined, where = _unwrapped(text, start, end)
    # Only the clauses that name a review or a litigation are read, each once: found
    # from the nouns (no noun holds a clause mark), in text order.
    marks = [m.start() for m in _CLAUSE_SPLIT.finditer(joined)]
    last = -1
    for noun in _NOUN.finditer(joined):
        k = bisect.bisect_right(marks, noun.start())  # the noun is in the k-th clause
        if k == last:
            continue
        last = k
        c_start = marks[k - 1] + 1 if k else 0
        c_end = marks[k] if k < len(marks) else len(joined)
        piece = joined[c_start:c_end]
        covered: set[str] = set()
        neg = _NEGATOR.search(piece)
        if neg:
            after = piece[neg.end():]
            first_noun = _NOUN.search(after)
            if first_noun and not _OUTCOME.search(after[:first_noun.start()]):
                covered = _covered_groups(after)
        if not covered and _ZERO_AFTER.search(piece):
            covered = _covered_groups(piece)
        if covered:
            lead = len(piece) - len(piece.lstrip())
            trail = len(piece) - len(piece.rstrip())
            found.append((where[c_start + lead], where[c_end - trail - 1] + 1, covered))
    return found


def _covered_groups(words: str) -> set[str]:
    groups: set[str] = set()
    for m in _NOUN.finditer(words):
        noun = m.group()
        if noun == "复议":
            groups.add("review")
        elif noun in ("诉讼", "起诉", "复议后起诉", "未经复议"):
            groups.update(("litigation_direct", "litigation_after_review"))
    return groups


def check_no_review_litigation(cells: _Cells, extraction: Extraction, text: str) -> list[CheckFields]:
    rule, t = "narrative.no_review_litigation", "review_litigation"
    spans_to_search = [(s.start, s.end) for s in extraction.sections
                       if s.key in ("overview", "review_litigation")]
    if not spans_to_search:
        spans_to_search = [(0, len(text))]
    statements: dict[str, list[tuple[int, int]]] = {}
    for s_start, s_end in spans_to_search:
        for c_start, c_end, groups in no_review_statements(text, s_start, min(s_end, len(text))):
            for g in groups:
                statements.setdefault(g, []).append((c_start, c_end))
    out: list[CheckFields] = []
    for group in REVIEW_GROUPS:
        if group not in statements:
            continue
        st_spans = statements[group]
        quoted = " / ".join(f"「{text[a:b]}」" for a, b in st_spans)
        keys = [(group, c) for c in REVIEW_COLUMNS]
        values, tcells, tspans, problems = cells.gather(t, keys)
        if not cells.has_table(t):
            out.append(_unknown(rule, group, f"the text states none {quoted}, but table 4 was not found",
                                [], st_spans))
            continue
        # The most the table shows for the group: its total, or its parts if larger.
        known = {c: cells.value(t, group, c)[0] for c in REVIEW_COLUMNS}
        parts = [known[c] for c in REVIEW_PARTS if known[c] is not None]
        total = known["total"]
        shown = max([total or 0, sum(parts)])
        if shown > 0:
            nonzero = ", ".join(f"{c} {_num(v)}" for c, v in known.items() if v)
            out.append(CheckFields(rule=rule, scope=group, ok=False, expected=0, found=shown,
                             detail=f"the text states none {quoted}, but table 4 {group} shows {nonzero}",
                             cells=tcells, spans=st_spans + tspans))
        elif problems:
            out.append(_unknown(rule, group, f"the text states none {quoted}, but {_reasons(problems)}",
                                tcells, st_spans + tspans))
        else:
            out.append(CheckFields(rule=rule, scope=group, ok=True, expected=0, found=0,
                             detail=f"the text states none {quoted}; table 4 {group} is all zero",
                             cells=tcells, spans=st_spans + tspans))
    return out


def _paragraph(text: str, offset: int) -> tuple[int, int]:
    """The paragraph around ``offset``.  A line break continues the paragraph when the
    line before it does not end a sentence (hard-wrapped text breaks lines mid-sentence);
    a blank line or a line ending in 。；：！？ ends it."""

    def ends_paragraph(nl: int) -> bool:
        before = text[:nl].rstrip(" \t\u3000\r")
        after = text[nl + 1:nl + 2]
        return not before or before[-1] in _SENTENCE_END or before.endswith("\n") or after in ("\n", "")

    start = text.rfind("\n", 0, offset)
    while start >= 0 and not ends_paragraph(start):
        start = text.rfind("\n", 0, start)
    end = text.find("\n", offset)
    while end >= 0 and not ends_paragraph(end):
        end = text.find("\n", end + 1)
    return start + 1, len(text) if end < 0 else end


_APPROXIMATE = re.compile(r"余|多|约|近|超过|以上|左右")


def published_passages(metrics: list[Metric], text: str) -> list[tuple[Metric, list[Metric]]]:
    """Each ``all`` published_items figure, in text order, with the channel parts of its
    passage, nearest first (an empty list when the passage states no part)."""
    published = sorted((m for m in metrics if m.type == "published_items"), key=lambda m: m.start)
    totals = [m for m in published if m.channel == "all"]
    passages: list[tuple[Metric, list[Metric]]] = []
    for total in totals:
        p_start, p_end = _paragraph(text, total.start)
        same = [m for m in published if p_start <= m.start < p_end]
        idx = same.index(total)
        after = []
        for m in same[idx + 1:]:
            if m.channel == "all":
                break
            after.append(m)
        parts = after
        if not parts:  # 门户网站655条，微信1025条，共计1680条: the parts come first
            for m in reversed(same[:idx]):
                if m.channel == "all":
                    break
                parts.append(m)
        seen: set[tuple[str | None, float]] = set()
        unique = []
        for m in parts:
            key = (m.channel, float(m.value))
            if key not in seen:
                seen.add(key)
                unique.append(m)
        passages.append((total, unique))
    return passages


def total_tolerance(total: Metric) -> float:
    """Half the last written digit's worth for a total written with 万/亿 (1.2万 ±500), else 0."""
    m = re.search(r"(\d+(?:\.(\d+))?)\s*(万|亿)", fold(total.text))
    if not m:
        return 0.0
    scale = 10_000 if m.group(3) == "万" else 100_000_000
    return scale * 10 ** -len(m.group(2) or "") / 2


def is_approximate(total: Metric) -> bool:
    """A total stated as a floor or an estimate (1,000余条, 近千条)."""
    return bool(_APPROXIMATE.search(total.text))


def check_published_total(extraction: Extraction, text: str,
                          min_confidence: float = NARRATIVE_MIN_CONFIDENCE) -> list[CheckFields]:
    rule = "narrative.published_total"
    out: list[CheckFields] = []
    for n, (total, parts) in enumerate(published_passages(extraction.metrics, text), start=1):
        if not parts:
            continue
        expected = total.value
        tolerance = total_tolerance(total)
        approximate = is_approximate(total)
        # The parts nearest the total that add up to it (to the precision the total is
        # written with; closest first, then the longer run); figures beyond them (a video
        # count after a semicolon) are not part of it.  An approximate total matches exactly
        # or not at all.
        slack = (0.0 if approximate else tolerance) + TOL
        runs = [(abs(sum(m.value for m in parts[:i]) - expected), -i) for i in range(1, len(parts) + 1)]
        fits = [run for run in runs if run[0] <= slack]
        matched = parts[:-min(fits)[1]] if fits else []
        found = sum(m.value for m in (matched or parts))
        terms = " + ".join(f"{m.channel} {_num(m.value)}" for m in (matched or parts))
        cells = [_metric_key(total)] + [_metric_key(m) for m in parts]
        spans = [(total.start, total.end)] + [(m.start, m.end) for m in parts]
        base = f"total {_num(expected)} 「{total.text}」; parts {terms} = {_num(found)}"
        uncertain = _uncertain([total] + parts, min_confidence)
        if uncertain:
            ok, detail = None, f"{base}; {uncertain}"
        elif matched:
            ok, detail = True, base
            if tolerance and not _equal(found, expected):
                detail += f" (the total is rounded: ±{_num(tolerance)})"
            if len(matched) < len(parts):
                rest = ", ".join(f"{m.channel} {_num(m.value)}" for m in parts[len(matched):])
                detail += f"; not part of it: {rest}"
        elif any(m.value > expected + slack for m in parts):
            # one channel alone above the total counts something else (every post of an
            # account, reposts included): a different measure, not a part of this total
            ok, detail = None, base + ": a channel figure is larger than the total, so it counts something else"
        elif found > expected and not approximate:
            ok, detail = False, base + f": the parts exceed the total ({_off_by(expected, found)})"
        elif approximate:
            ok, detail = None, base + ": the total is approximate"
        else:
            ok, detail = None, base + ": the parts fall short of the total; the report may not list every channel"
        out.append(CheckFields(rule=rule, scope=f"all#{n}", ok=ok, expected=expected, found=found,
                         detail=detail, cells=cells, spans=spans))
    return out


# --- entry points ----------------------------------------------------------------


def run_checks(extraction: Extraction, text: str,
               min_confidence: float = NARRATIVE_MIN_CONFIDENCE) -> list[Check]:
    """Every rule the spec defines, plus each narrative agreement the report allows
    (prose figures compared at ``min_confidence`` or more)."""
    cells = _Cells(extraction)
    text = text or ""
    found = (check_applications(cells, extraction)
             + check_review_litigation(cells)
             + check_narrative_figures(cells, extraction, min_confidence)
             + check_no_review_litigation(cells, extraction, text)
             + check_published_total(extraction, text, min_confidence))
    # Every field is validated but ``spans``: the rules build them as (int, int) tuples
    # already (from validated provenance and metric offsets), and validating a report's
    # few hundred tuples one by one was half the cost of the validation.
    spans = [fields.pop("spans", None) for fields in found]
    checks = _CHECK_LIST.validate_python(found)
    for check, check_spans in zip(checks, spans):
        if check_spans is not None:
            check.spans = check_spans
    return checks


def summarise(checks: list[Check]) -> AuditSummary:
    return AuditSummary(passed=sum(c.ok is True for c in checks),
                        failed=sum(c.ok is False for c in checks),
                        unknown=sum(c.ok is None for c in checks))


__all__ = ["run_checks", "summarise", "no_review_statements", "published_passages", "result_rows",
           "total_tolerance", "is_approximate"]
