"""From rows of cells to the three tables: which text belongs to which table,
row classification combined with the template order (a monotone alignment that
lets rows be omitted, extra rows stay unassigned and the single （六）其他处理 row
stand in for three), layout detection, column assignment by the reconstructed
header, values with flags and provenance, and a confidence per table.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from operator import attrgetter

import numpy as np

from service.tables.classify import NONE_CLASS, RowModel, strip_label
from service.tables.glued import (
    active_rule,
    blank_patterns,
    can_split,
    group_sum_rule,
    looks_glued,
    placements,
    read_glued,
    resolve_columns,
    row_sum_rule,
    splits,
)
from service.tables.grid import (
    GridCell,
    GridRow,
    TableRow,
    read_value,
    source_table_rows,
    table_rows,
    text_rows,
)
from service.tables.headers import (
    COLUMN_NAMES,
    active_order,
    applicant_order,
    match_column,
    norm_header,
    review_order,
    row_items,
)
from service.template import (
    ACTIVE_2019,
    ACTIVE_2021,
    APPLICANT_COLUMNS,
    APPLICATION_ROWS_2021,
    OTHER_HANDLING_2019,
    REVIEW_COLUMNS,
    REVIEW_GROUPS,
    TABLE_KEYS,
)
from service.types import CellFlag, Document, Section, TablesResult, UnrecognisedRow

# --- the template as one ordered sequence -------------------------------------------

_ACTIVE_ORDER = ("regulations", "normative_documents", "licensing", "other_services", "penalty",
                 "coercion", "fees", "procurement")
_APPLICATION_ORDER = tuple(
    k for key in APPLICATION_ROWS_2021
    for k in ((OTHER_HANDLING_2019[0], key) if key == "other_no_correction" else (key,)))

#: Every row any layout may print, in printed order: the alignment's template.
TEMPLATE: tuple[tuple[str, str], ...] = (
    tuple(("active_disclosure", k) for k in _ACTIVE_ORDER)
    + tuple(("applications", k) for k in _APPLICATION_ORDER)
    + tuple(("review_litigation", k) for k in REVIEW_GROUPS))


def _max_columns(table: str, row: str) -> int:
    if table == "active_disclosure":
        return max(len(cols) for layout in (ACTIVE_2021, ACTIVE_2019)
                   for key, (_, cols) in layout.items() if key == row)
    return len(APPLICANT_COLUMNS) if table == "applications" else len(REVIEW_COLUMNS)


_MAX_COLUMNS = np.array([_max_columns(t, r) for t, r in TEMPLATE])
_TEMPLATE_TABLES = np.array([t for t, _ in TEMPLATE])

#: Region of a row inside a section that holds no table (overview, problems, …).
ELSEWHERE = "elsewhere"

#: Scores (log space) of the alignment.
NULL_SCORE = float(np.log(0.1))   # leaving a row unassigned
OTHER_SECTION = -1.5              # a row inside another table's section
TOO_MANY_FIGURES = -6.0           # more figures than the row has columns
LAYOUT_2019_ONLY = -2.0           # a 2021-only row (（六）1./2./3.) when the headers are 2019-style

NUMBER_MATCH = 2.0                # a table-3 row numbered (（二）, 3.) as the template numbers that row

_COLUMNS_2019 = frozenset(("made", "published", "total_public", "prev_year_items", "change", "projects"))
_COLUMNS_2021 = frozenset(("issued", "repealed", "in_force"))
_ROWS_2021_ONLY = np.array([t == "applications" and r in ("other_no_correction", "other_no_fee", "other_misc")
                            for t, r in TEMPLATE])
_FLOOR = 1e-6


@dataclass
class Candidate:
    """A row with figures, ready for classification."""

    row: TableRow
    region: str | None        # table whose section holds the row, ELSEWHERE, or None
    order: int                # position among all rows of the document
    header: list[str] | None  # texts of the last header row above it


@dataclass
class Reading:
    """All rows of a document as the table reader parsed them."""

    rows: list[tuple[TableRow, str | None]]  # every row with its region
    candidates: list[Candidate] = field(default_factory=list)
    present: set[str] = field(default_factory=set)  # tables whose section was given


def _merge_source_tables(doc: Document, start: int, end: int) -> list[GridRow]:
    """Rows of ``[start, end)``: ingester grids where they are, text elsewhere."""
    tables = sorted((t for t in doc.tables if t.start < end and t.end > start), key=lambda t: t.start)
    rows: list[GridRow] = []
    pos = start
    for table in tables:
        if table.start > pos:
            rows.extend(text_rows(doc.text, pos, table.start))
        rows.extend(source_table_rows(doc.text, table))
        pos = max(pos, table.end)
    if pos < end:
        rows.extend(text_rows(doc.text, pos, end))
    return rows


def read_rows(doc: Document, sections: list[Section]) -> Reading:
    """Parse the whole text into rows, and pick the candidates.

    The text is read whole, not section by section: a section is only a hint
    for the alignment, since segmentation may have missed a heading or taken a
    row label (四、结转下年度继续办理) for one, which would cut a row in two.
    """
    text = doc.text
    known = [s for s in sections if s.end > s.start]
    region_of = _regions(known)
    reading = Reading(rows=[], present={s.key for s in known if s.key in TABLE_KEYS})
    last_header: list[str] | None = None
    for order, row in enumerate(table_rows(_merge_source_tables(doc, 0, len(text)))):
        region = region_of(row.start)
        reading.rows.append((row, region))
        if row.header:
            last_header = [c.text for c in row.cells if c.kind == "label"]
        elif row.values and row.labels and not (row.filled == 0 and row.label_text.rstrip().endswith("。")):
            # (a sentence followed by a stray tab is prose, not a row left blank)
            if row.wrapped and _is_column_name(row.label_text, region):
                continue  # a column's header word above its figures (a PDF's raw text): not a row
            reading.candidates.append(Candidate(row, region, order, last_header))
    return reading


@lru_cache(maxsize=1024)
def _is_column_name(label: str, region: str | None) -> bool:
    """Whether a label is exactly the name of a column (现行有效件数, 本年处理决定数量), not
    of a row or a group of rows (行政复议).  A two-character name (总计, 其他) is a row's
    too (（七）总计, 3.其他 with its number torn off), except in table 4, whose rows are
    its groups."""
    for table in COLUMN_NAMES:
        key = match_column(label, table, exact=True)
        if key is not None and not key.startswith("@") and (
                len(norm_header(label)) > 2 or table == region == "review_litigation"):
            return True
    return False


def _regions(sections: list[Section]) -> Callable[[int], str | None]:
    """Offset → region: the key of the first section (in list order) holding it if
    that is a table's, ELSEWHERE for any other section, None outside all of them.

    Worked out once per document for the pieces between consecutive section
    boundaries (the same sections hold every offset of such a piece)."""
    bounds = sorted({b for s in sections for b in (s.start, s.end)})
    regions: list[str | None] = []
    for pos in bounds[:-1]:
        owner = next((s for s in sections if s.start <= pos < s.end), None)
        regions.append(None if owner is None else owner.key if owner.key in TABLE_KEYS else ELSEWHERE)

    def region_of(pos: int) -> str | None:
        piece = bisect_right(bounds, pos) - 1
        return regions[piece] if 0 <= piece < len(regions) else None

    return region_of


# --- alignment -----------------------------------------------------------------------


@lru_cache(maxsize=16)
def _template_columns(classes: tuple[str, ...]) -> np.ndarray:
    """Column of each template row in the model's classes (-1: a class the model lacks)."""
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index.get(f"{t}.{r}", -1) for t, r in TEMPLATE])


@lru_cache(maxsize=16)
def _penalties(present: frozenset[str]) -> np.ndarray:
    """Section-prior penalty per region (rows) and template row (columns).

    Regions: the three tables' sections, then no section at all, then a section
    that holds no table.  A row is penalised for the tables whose section was
    found elsewhere; a table whose section was not found costs nothing anywhere.
    """
    found = np.isin(_TEMPLATE_TABLES, sorted(present))
    rows = [np.where((_TEMPLATE_TABLES != t) & found, OTHER_SECTION, 0.0) for t in TABLE_KEYS]
    rows += [np.zeros(len(TEMPLATE)), np.where(found, OTHER_SECTION, 0.0)]
    return np.array(rows)


_REGION_INDEX = {t: i for i, t in enumerate(TABLE_KEYS)} | {None: len(TABLE_KEYS), ELSEWHERE: len(TABLE_KEYS) + 1}


def _scores(reading: Reading, proba: np.ndarray, classes: list[str]) -> np.ndarray:
    """Log score of every (candidate, template row) pair."""
    cols = _template_columns(tuple(classes))
    padded = np.hstack([proba, np.zeros((len(proba), 1))])  # column -1: a class the model lacks
    scores = np.log(np.maximum(padded[:, cols], _FLOOR))
    scores += _penalties(frozenset(reading.present))[[_REGION_INDEX[c.region] for c in reading.candidates]]
    filled = np.array([c.row.filled for c in reading.candidates])
    scores += np.where(filled[:, None] > _MAX_COLUMNS[None, :], TOO_MANY_FIGURES, 0.0)
    numbered, priors = [], []
    for i, cand in enumerate(reading.candidates):
        numbers = strip_label(cand.row.label_text)[1]
        if numbers:
            numbered.append(i)
            priors.append(_numbering_prior(*numbers[-1]))
    if numbered:
        scores[numbered] += np.array(priors)
    if _headers_say_2019(reading):
        # the 2019 template has the single （六）其他处理 row, never its three 2021 rows
        scores[:, _ROWS_2021_ONLY] += LAYOUT_2019_ONLY
    return scores


def _template_numbers() -> dict[str, dict[str, int]]:
    """The numbers table 3's template gives each row: 一、…四、 (cn), （一）…（七） (pcn)
    and the child's 1./2./… (dig), parents' numbers inherited by their children."""
    out: dict[str, dict[str, int]] = {}
    inherited: dict[str, int] = {}
    labels = dict(APPLICATION_ROWS_2021)
    labels[OTHER_HANDLING_2019[0]] = "三、" + OTHER_HANDLING_2019[1]
    for key in _APPLICATION_ORDER:
        numbers = dict(strip_label(labels[key])[1])
        if "cn" in numbers:
            inherited = {"cn": numbers["cn"]}
        if "pcn" in numbers:
            inherited = {"cn": inherited.get("cn", 0), "pcn": numbers["pcn"]}
        out[key] = {**inherited, **({"dig": numbers["dig"]} if "dig" in numbers else {})}
    return out


_NUMBER_KIND = {"cn": "cn", "pcn": "pcn", "dig": "dig", "pdig": "dig", "circ": "dig"}


@lru_cache(maxsize=64)
def _numbering_prior(kind: str, value: int) -> np.ndarray:
    """Bonus over the template for a row whose own label's last number is (kind, value).

    A bonus for the rows the number fits, not a penalty for the others: a report
    numbered its own way (（一）本年新收…) loses nothing, and a row is never
    pushed below leaving it unassigned; among plausible rows, the number decides
    unless the label says otherwise with odds above e².
    """
    expected = _template_numbers()
    kind = _NUMBER_KIND.get(kind, "")
    out = np.zeros(len(TEMPLATE))
    if kind:
        for j, (table, key) in enumerate(TEMPLATE):
            if table == "applications" and expected[key].get(kind) == value:
                out[j] = NUMBER_MATCH
    return out


def _headers_say_2019(reading: Reading) -> bool:
    """Whether table 2's column headers are the 2019 layout's (本年新制作数量, 本年增/减 …)."""
    votes = 0
    for row, _ in reading.rows:
        if row.header:
            for col in active_order([c.text for c in row.cells if c.kind == "label"]):
                votes += (col in _COLUMNS_2019) - (col in _COLUMNS_2021)
    return votes > 0


def align(scores: np.ndarray, null_score: float = NULL_SCORE) -> list[int | None]:
    """The best strictly increasing assignment of rows to template positions
    (or to none), maximising the summed log scores.

    Giving a row a position that scores no better than leaving it unassigned
    can never help (it only uses up a position), so each row offers only its
    few positions above ``null_score``, and rows with none cost nothing.  The
    dynamic programme keeps the Pareto front of partial solutions: (last
    position used, score), a later position being kept only with a strictly
    higher score.  Scores are kept relative to leaving every row unassigned.
    """
    n = scores.shape[0]
    if n == 0:
        return []
    rows, cols = np.nonzero(scores > null_score)
    gains = scores[rows, cols] - null_score
    positions: list[int] = [-1]      # the front, sorted by position
    values: list[float] = [0.0]      # with strictly increasing scores
    backs: list[tuple | None] = [None]
    k = 0
    while k < len(rows):
        i = int(rows[k])
        new = []
        while k < len(rows) and rows[k] == i:
            j = int(cols[k])
            at = bisect_left(positions, j) - 1  # best state ending before j
            new.append((j, values[at] + float(gains[k]), (i, j, backs[at])))
            k += 1
        for j, value, back in new:
            at = bisect_left(positions, j)
            if values[at - 1] >= value or (at < len(positions) and positions[at] == j
                                           and values[at] >= value):
                continue  # dominated by a state ending no later with at least this score
            end = at
            while end < len(positions) and values[end] <= value:
                end += 1  # states ending later with no better score are dominated
            positions[at:end] = [j]
            values[at:end] = [value]
            backs[at:end] = [back]
    out: list[int | None] = [None] * n
    back = backs[-1]  # the highest score is the last on the front
    while back is not None:
        i, j, back = back
        out[i] = j
    return out


# --- values --------------------------------------------------------------------------


def pick_window(values: list[GridCell], n: int, sum_rule: bool) -> list[GridCell]:
    """The ``n`` consecutive value cells that are the row's figures.

    Merged cells leave empty cells before or after the figures; prefer the
    window with the most non-blank cells, then one whose last cell is the sum
    of the others (the row total), then the leftmost.
    """
    if len(values) <= n:
        return values
    best, best_key = values[:n], None
    for s in range(len(values) - n + 1):
        window = values[s:s + n]
        filled = sum(1 for c in window if c.kind != "blank")
        sums = 0
        if sum_rule:
            nums = [read_value(c).value for c in window]
            if all(isinstance(v, (int, float)) and not isinstance(v, str) for v in nums):
                sums = int(abs(sum(nums[:-1]) - nums[-1]) < 1e-9)
        key = (filled, sums, -s)
        if best_key is None or key > best_key:
            best, best_key = window, key
    return best


@dataclass
class _Out:
    tables: dict[str, dict[str, dict]] = field(default_factory=dict)
    provenance: dict[str, tuple[int, int]] = field(default_factory=dict)
    flags: list[CellFlag] = field(default_factory=list)

    def put(self, table: str, row: str, cols: list[str], cells: list[GridCell]) -> None:
        """The values of one row's cells under their column keys, with spans and flags."""
        values = self.tables.setdefault(table, {}).setdefault(row, {})
        prefix = f"{table}.{row}."
        provenance = self.provenance
        for col, cell in zip(cols, cells):
            value, reason, raw, start, end = read_value(cell)
            values[col] = value
            provenance[prefix + col] = (start, end)
            if reason is not None:
                self.flags.append(CellFlag(cell=prefix + col, raw=raw, reason=reason))

    def put_cuts(self, table: str, row: str, cols: list[str], cells: list[GridCell],
                 cuts: list[list[GridCell]]) -> None:
        """A glued row (``cells``) given its candidate cuts: the cells all cuts agree
        on, and for the others ``None`` flagged ``ambiguous_split`` with their candidates.
        Where no cut fits (the report's own figures do not add up), every cell is
        ``None``, its candidates those of every cut the digits allow."""
        if len(cuts) == 1:
            self.put(table, row, cols, cuts[0])
            return
        raw_start, raw_end = min(c.start for c in cells), max(c.end for c in cells)
        prefix = f"{table}.{row}."
        shown = cuts or splits(cells, len(cols))  # (none when there are too many to list)
        for i, col in enumerate(cols):
            options = {read_value(cut[i]).value for cut in shown}  # (None: the cut leaves it blank)
            if cuts and len(options) == 1:
                self.put(table, row, [col], [cuts[0][i]])
                continue
            self.tables.setdefault(table, {}).setdefault(row, {})[col] = None
            self.provenance[prefix + col] = (raw_start, raw_end)
            self.flags.append(CellFlag(cell=prefix + col, raw=" ".join(c.text for c in cells),
                                       reason="ambiguous_split",
                                       candidates=sorted(v for v in options if v is not None)))


def glued_cuts(cells: list[GridCell], n: int, rule=None, forced: bool = False) -> list[list[GridCell]] | None:
    """The candidate cuts of a row whose figures are glued together ([] when no cut
    fits: its cells are then unknown), or None when the row's cells are its figures
    as they stand.  ``forced``: where no cut satisfies ``rule``, the only cut the digit
    count allows is taken (see ``read_glued``)."""
    if can_split(cells, n):
        return read_glued(cells, n, rule, forced)
    return [] if looks_glued(cells, n) else None


def _active_layout(assigned: list[tuple[Candidate, str]]) -> str:
    """2019 or 2021 table 2, from its header wording, its rows and its row widths."""
    votes = {"2019": 0.0, "2021": 0.0}
    seen_headers: set[tuple[str, ...]] = set()
    for cand, key in assigned:
        if cand.header is not None and tuple(cand.header) not in seen_headers:
            seen_headers.add(tuple(cand.header))
            for col in active_order(cand.header):
                if col in _COLUMNS_2019:
                    votes["2019"] += 1
                elif col in _COLUMNS_2021:
                    votes["2021"] += 1
        if key in ("other_services", "procurement"):
            votes["2019"] += 2
        if key in ("licensing", "penalty", "coercion"):
            votes["2019" if cand.row.filled >= 2 else "2021"] += 0.5
    return "2019" if votes["2019"] > votes["2021"] else "2021"


def _active_columns(key: str, layout: str, header: list[str] | None) -> list[str]:
    schema = ACTIVE_2019 if layout == "2019" or key not in ACTIVE_2021 else ACTIVE_2021
    cols = list(schema[key][1])
    named = active_order(header) if header else []
    if sorted(named) == sorted(cols):
        return named
    return cols


def _header_rows_between(reading: Reading, lo: int, hi: int) -> list[list[str]]:
    """Label texts of the header rows between document row positions ``lo`` and ``hi``."""
    return [[c.text for c in row.cells if c.kind == "label"]
            for row, _ in reading.rows[max(lo, 0):hi + 1] if row.header]


def _read_review_bare(reading: Reading, used: set[int], after: int, out: _Out) -> tuple[float, list[int]]:
    """Table 4 as it is usually printed: a header, then 15 figures in a row (or one
    per line).  Returns a confidence and the row positions consumed.

    Reading starts at the first table-4 header in its section (or, without a
    section or with nothing there, at the first one after table 3) and goes on
    past the section's end if the figures do: a section boundary is a hint.
    """
    rows = [(o, row) for o, (row, _) in enumerate(reading.rows)]
    if "review_litigation" in reading.present:
        mine = [o for o, (_, reg) in enumerate(reading.rows) if reg == "review_litigation"]
        if mine:
            first = mine[0]
            # a heading placed late may leave the first header rows just before the section
            while first > 0 and reading.rows[first - 1][0].header and row_items(
                    [c.text for c in reading.rows[first - 1][0].cells], "review_litigation"):
                first -= 1
            found = _read_review_rows(reading, used, out, rows[first:], True)
            if found[1]:
                return found
    return _read_review_rows(reading, used, out, rows[after + 1:], False)


def _read_review_rows(reading: Reading, used: set[int], out: _Out, rows: list[tuple[int, TableRow]],
                      in_section: bool) -> tuple[float, list[int]]:
    start = next((k for k, (_, row) in enumerate(rows) if row.header
                  and row_items([c.text for c in row.cells], "review_litigation")), None)
    if start is None and not in_section:
        return 0.0, []
    headers: list[list[str]] = []
    cells: list[GridCell] = []
    consumed: list[int] = []
    for o, row in rows[start or 0:]:
        if row.header:
            # (a table 4 printed as one small table per group repeats its header)
            if cells and not row_items([c.text for c in row.cells], "review_litigation"):
                break
            headers.append([c.text for c in row.cells if c.kind == "label"])
            continue
        if o in used or not row.values:
            continue
        if row.labels and not row_items([c.text for c in row.labels], "review_litigation"):
            if cells:
                break
            continue
        cells.extend(row.values)
        consumed.append(o)
        if sum(1 for c in cells if c.kind != "blank") >= 15:
            break
    if not cells:
        return 0.0, []
    groups, orders = review_order(headers)
    window = pick_window(cells, 15, sum_rule=False)
    # fewer than 15 figures are glued when their digits could make 15, when one has a
    # leading zero, or when a single run holds them all; otherwise the table stopped
    # short (one small table per group), and its groups are read as far as they go
    glued = (can_split(window, 15) or len(window) == 1
             or any(len(c.text) > 1 and c.text.startswith(("0", "０")) for c in window))
    cuts = glued_cuts(window, 15, group_sum_rule([orders[g].index("total") for g in groups], 5)) \
        if glued else None
    candidates = _review_orders(orders, groups, window) if cuts is None and len(window) == 15 else [orders]
    if len(candidates) > 1:
        # the figures cannot tell the header's column order from the template's: each
        # group's cells by template column under both, the disagreements left unknown
        for gi, group in enumerate(groups):
            cells5 = window[5 * gi:5 * gi + 5]
            readings = [dict(zip(o[group], cells5)) for o in candidates]
            out.put_cuts("review_litigation", group, list(REVIEW_COLUMNS), cells5,
                         [[r[col] for col in REVIEW_COLUMNS] for r in readings])
        return (1.0 if headers else 0.7), consumed
    orders = candidates[0]
    for gi, group in enumerate(groups):
        if cuts is not None:
            out.put_cuts("review_litigation", group, orders[group], window,
                         [cut[5 * gi:5 * gi + 5] for cut in cuts])
        elif len(window) == 15:
            out.put("review_litigation", group, orders[group], window[5 * gi:5 * gi + 5])
        else:
            # fewer figures than cells: a group is read only while its five add up (one
            # small table per group); blank cells dropped by the text would shift the rest
            cells5 = window[5 * gi:5 * gi + 5]
            values = [read_value(c).value for c in cells5]
            if len(cells5) < 5 or not all(type(v) in (int, float) for v in values) \
                    or not row_sum_rule(orders[group].index("total"))(values):
                break
            out.put("review_litigation", group, orders[group], cells5)
    confidence = (1.0 if headers else 0.7) * min(1.0 if cuts is not None else len(window) / 15, 1.0)
    return confidence, consumed


def _review_orders(orders: dict[str, list[str]], groups: list[str],
                   window: list[GridCell]) -> list[dict[str, list[str]]]:
    """Table 4's column orders worth reading 15 figures by: the header's, unless it puts
    a total elsewhere than the template and each group's figures add up to their total
    under the template's order, not under the header's (a header whose two-line words
    结果/维持 were read apart); both where the figures cannot tell."""
    template = {g: list(REVIEW_COLUMNS) for g in groups}
    if all(orders[g].index("total") == REVIEW_COLUMNS.index("total") for g in groups):
        return [orders]  # the figures can only tell where the total is; the header says the rest
    values = [read_value(c).value for c in window]
    if not all(type(v) in (int, float) for v in values):
        return [orders]

    def adds_up(o: dict[str, list[str]]) -> int:
        return sum(row_sum_rule(o[g].index("total"))(values[5 * gi:5 * gi + 5]) for gi, g in enumerate(groups))

    by_header, by_template = adds_up(orders), adds_up(template)
    if by_template > by_header:
        return [template]
    if by_header > by_template:
        return [orders]
    return [orders, template]


def read_tables(doc: Document, sections: list[Section], model: RowModel) -> TablesResult:
    """Read tables 2, 3 and 4 of a report (see the package docstring)."""
    reading = read_rows(doc, sections)
    cands = reading.candidates
    proba = model.predict_proba([c.row for c in cands])
    scores = _scores(reading, proba, model.classes)
    assignment = align(scores)
    none_index = model.classes.index(NONE_CLASS) if NONE_CLASS in model.classes else -1

    # each assigned row with the classifier's probability for its row (for the confidence)
    columns = _template_columns(tuple(model.classes))
    _assign_out_of_order(reading, proba, columns, assignment)
    _one_other_handling(reading, assignment)
    released, gap_rows = _fill_application_gaps(reading, assignment)
    for i in released:
        assignment[i] = None  # placed by position below, or let go
    by_table: dict[str, list[tuple[Candidate, str, float]]] = {t: [] for t in TABLE_KEYS}
    for i, (cand, pos) in enumerate(zip(cands, assignment)):
        if pos is None:
            continue
        table, key = TEMPLATE[pos]
        by_table[table].append((cand, key, float(proba[i, columns[pos]]) if columns[pos] >= 0 else 0.0))
    if gap_rows:
        by_table["applications"] = sorted(by_table["applications"] + [(c, key, GAP_ROW_PROBABILITY)
                                                                      for c, key in gap_rows],
                                          key=lambda placed: placed[0].order)

    out = _Out()
    confidence: dict[str, float] = {}
    used = {c.order for t in by_table.values() for c, _, _ in t}

    # Table 2.
    active = by_table["active_disclosure"]
    layout = _active_layout([(c, k) for c, k, _ in active]) if active else "2021"
    if active:
        fits = []
        for cand, key, _ in active:
            cols = _active_columns(key, layout, cand.header)
            window = pick_window(cand.row.values, len(cols), sum_rule=False)
            cuts = glued_cuts(window, len(cols), active_rule(cols), forced=True)
            fits.append(len(window) == len(cols) or bool(cuts))
            if cuts is None:
                out.put("active_disclosure", key, cols, window)
            else:
                out.put_cuts("active_disclosure", key, cols, window, cuts)
        expected = len(ACTIVE_2019 if layout == "2019" else ACTIVE_2021)
        confidence["active_disclosure"] = _confidence([p for _, _, p in active], expected, fits)

    # Table 3.
    apps = by_table["applications"]
    if apps:
        lo = max((c.order for c, _, _ in active), default=-1)
        hi = apps[-1][0].order
        order = applicant_order(_header_rows_between(reading, lo, hi)) or list(APPLICANT_COLUMNS)
        fits = _put_applications(out, [(key, cand.row.values) for cand, key, _ in apps], order)
        expected = len(APPLICATION_ROWS_2021) - 2
        confidence["applications"] = _confidence([p for _, _, p in apps], expected, fits)

    # Table 4: labelled group rows, or (usually) 15 bare figures under a header.
    review = by_table["review_litigation"]
    after = max((c.order for t in ("active_disclosure", "applications") for c, _, _ in by_table[t]),
                default=-1)
    if review:
        groups, orders = review_order(_header_rows_between(reading, after, review[-1][0].order))
        fits = []
        for cand, key, _ in review:
            window = pick_window(cand.row.values, 5, sum_rule=orders[key][-1] == "total")
            cuts = glued_cuts(window, 5, row_sum_rule(orders[key].index("total")))
            fits.append(len(window) == 5 or bool(cuts))
            if cuts is None:
                out.put("review_litigation", key, orders[key], window)
            else:
                out.put_cuts("review_litigation", key, orders[key], window, cuts)
        confidence["review_litigation"] = _confidence([p for _, _, p in review], 3, fits)
    else:
        conf, consumed = _read_review_bare(reading, used, after, out)
        used.update(consumed)
        if consumed:
            confidence["review_litigation"] = conf

    # Rows with figures the template does not know: reported, never dropped.
    unrecognised = []
    extents = {t: (rows[0][0].order, rows[-1][0].order) for t, rows in by_table.items() if rows}
    for i, (cand, pos) in enumerate(zip(cands, assignment)):
        if pos is not None or cand.order in used or cand.row.filled == 0:
            continue
        table = cand.region if cand.region in TABLE_KEYS else None
        if table is None:  # between rows of a table found elsewhere: that table's
            table = next((t for t, (a, b) in extents.items() if a <= cand.order <= b), None)
        if table is None and cand.region == ELSEWHERE:
            continue  # prose of another section: its figures are the metrics' business
        if table is None and none_index >= 0 and proba[i].argmax() != none_index:
            best = model.classes[int(proba[i].argmax())]
            table = best.split(".")[0] if "." in best else None
        if table is None:
            continue
        row = cand.row
        unrecognised.append(UnrecognisedRow(table=table, text=doc.text[row.start:row.end],
                                            start=row.start, end=row.end))

    tables = {t: _in_template_order(t, out.tables[t]) for t in TABLE_KEYS if t in out.tables}
    # Every field is built with its declared type here: skip re-validation (hot path).
    return TablesResult.model_construct(layout=layout, tables=tables, provenance=out.provenance,
                                        cell_flags=out.flags, table_confidence=confidence,
                                        unrecognised_rows=unrecognised)


_OTHER_HANDLING_POS = TEMPLATE.index(("applications", OTHER_HANDLING_2019[0]))


def _one_other_handling(reading: Reading, assignment: list[int | None]) -> None:
    """A table has one layout: where the 2021 rows （六）1./2./3. were read, a row taken
    for the 2019 single （六）其他处理 that prints no figure is their group label."""
    if not any(pos is not None and _ROWS_2021_ONLY[pos] for pos in assignment):
        return
    for i, pos in enumerate(assignment):
        if pos == _OTHER_HANDLING_POS and reading.candidates[i].row.filled == 0:
            assignment[i] = None


#: How sure the classifier must be of a row printed out of the template's order (a
#: converter that moved 规章/规范性文件 below 行政许可) for it to take a row still unfilled.
OUT_OF_ORDER_PROBABILITY = 0.9


def _assign_out_of_order(reading: Reading, proba: np.ndarray, columns: np.ndarray,
                         assignment: list[int | None]) -> None:
    """Rows the in-order alignment left out, given to the template row they surely are
    when no other row took it (``assignment`` is completed in place).  Only rows whose
    label stands beside their figures."""
    taken = {p for p in assignment if p is not None}
    for i, cand in enumerate(reading.candidates):
        if assignment[i] is not None or cand.region == ELSEWHERE or cand.row.filled == 0 or cand.row.wrapped:
            continue  # (a label joined to figures from the line below may not be theirs)
        free = [p for p in range(len(TEMPLATE)) if p not in taken and columns[p] >= 0
                and cand.row.filled <= _MAX_COLUMNS[p]
                and cand.region in (None, _TEMPLATE_TABLES[p])]
        if not free:
            continue
        best = max(free, key=lambda p: proba[i, columns[p]])
        if proba[i, columns[best]] >= OUT_OF_ORDER_PROBABILITY:
            assignment[i] = best
            taken.add(best)


#: The confidence given to a row of table 3 placed by its position alone (no label).
GAP_ROW_PROBABILITY = 0.5


def _fill_application_gaps(reading: Reading, assignment: list[int | None]
                           ) -> tuple[list[int], list[tuple[Candidate, str]]]:
    """Rows of figures without a label, between two rows of table 3 read with theirs,
    placed in the template rows left free between those two, in order, when there are
    exactly as many of them as free rows (a converter that tore the labels from their
    figures keeps the figures in the template's order).

    Only rows of seven figures that add up.  In such a gap a label joined to the figures
    below it (``wrapped``) proves nothing — the torn pieces of a label may stand above
    another row's figures — so those rows are placed by their order too, and a row
    whose figures do not fit (a torn label that picked up a stray number) is let go.
    Returns the candidates to unassign and the rows placed, with their keys."""
    n = len(APPLICANT_COLUMNS)
    cands = reading.candidates
    placed = [(cands[i], pos, i) for i, pos in enumerate(assignment)
              if pos is not None and TEMPLATE[pos][0] == "applications"]

    def fits(cells: list[GridCell]) -> bool:
        return len(cells) == n or can_split(cells, n)

    anchors = sorted((c.order, pos) for c, pos, _ in placed if fits(c.row.values) and not c.row.wrapped)
    bare = [(order, row, region) for order, (row, region) in enumerate(reading.rows)
            if not row.header and not row.labels and _adds_up(row.values)]
    if len(anchors) < 2 or not bare:
        return [], []
    layout_2021 = any(_ROWS_2021_ONLY[pos] for _, pos, _ in placed)
    layout_2019 = any(pos == _OTHER_HANDLING_POS for _, pos, _ in placed)
    released: list[int] = []
    found: list[tuple[Candidate, str]] = []
    for (lo, first), (hi, last) in zip(anchors, anchors[1:]):
        unlabelled = [Candidate(row, region, o, None) for o, row, region in bare if lo < o < hi]
        if not unlabelled or last - first < 2:
            continue
        between = [(c, i) for c, _, i in placed if lo < c.order < hi]
        rows = sorted(unlabelled + [c for c, _ in between if fits(c.row.values)], key=attrgetter("order"))
        free = range(first + 1, last)
        layouts = [[p for p in free if not (_ROWS_2021_ONLY[p] if only_2019 else p == _OTHER_HANDLING_POS)]
                   for only_2019 in (False, True)
                   if not (only_2019 and layout_2021) and not (not only_2019 and layout_2019)]
        fitting = [positions for positions in layouts if len(positions) == len(rows)]
        if len(fitting) != 1:
            continue
        header = next((c.header for c, pos, _ in placed if pos == first), None)
        released += [i for _, i in between]
        found += [(replace(c, header=c.header or header), TEMPLATE[p][1]) for c, p in zip(rows, fitting[0])]
    return released, found


def _adds_up(cells: list[GridCell]) -> bool:
    """Seven figures, one of the two ends the sum of the other six (the total is printed
    first or last)."""
    if len(cells) != len(APPLICANT_COLUMNS):
        return False
    values = [read_value(c).value for c in cells]
    if not all(type(v) is int for v in values):
        return False
    return row_sum_rule(0)(values) or row_sum_rule(len(values) - 1)(values)


def _put_applications(out: _Out, rows: list[tuple[str, list[GridCell]]], order: list[str]) -> list[bool]:
    """Table 3's rows (key, value cells) into ``out`` under the header's column
    ``order``: cells as they stand, glued figures cut by the identities, a table whose
    rows leave the same cells blank read by its printed columns.  Returns per row
    whether its figures fit the columns."""
    orders = _total_orders(order, [values for _, values in rows])
    n = len(order)
    windows = [pick_window(values, n, sum_rule=orders[0][-1] == "total") for _, values in rows]
    # A glued row with too few digits for its cells shows the table leaves cells blank;
    # without one, a cut the digit count forces is the row as printed, added up or not.
    blanks_shown = any(looks_glued(w, n) and not can_split(w, n) for w in windows)
    if blanks_shown and all(looks_glued(w, n) or can_split(w, n) for w in windows):
        patterns = blank_patterns({key: w for (key, _), w in zip(rows, windows)}, orders[0], list(_RESULT_ROWS))
        if patterns:
            # every row glued, the same cells left blank in each: what every fitting set
            # of printed columns agrees on (a cell blank in all of them is blank)
            for (key, _), window in zip(rows, windows):
                blank = GridCell("", window[0].start, window[0].start, "blank")
                out.put_cuts("applications", key, list(APPLICANT_COLUMNS), window,
                             [[cut_rows[key][printed.index(col)] if col in printed else blank
                               for col in APPLICANT_COLUMNS] for printed, cut_rows in patterns])
            return [True] * len(rows)
    fits = []
    glued: dict[str, tuple[list[GridCell], list[list[GridCell]]]] = {}
    for (key, _), window in zip(rows, windows):
        glued_row = looks_glued(window, n) or can_split(window, n)
        # the row's cells by template column, under each column order the table may have
        readings = []
        for o in orders:
            rule = row_sum_rule(o.index("total"))
            cuts = (glued_cuts(window, n, rule, forced=not blanks_shown) or []
                    if glued_row else [window])
            if glued_row and not cuts and _separated(window):
                cuts = placements(window, n, rule)  # no cut adds up: the text dropped blank cells
            readings += [[dict(zip(o, cut))[col] for col in APPLICANT_COLUMNS] for cut in cuts if len(cut) == n]
        fits.append(len(window) == n or (glued_row and bool(readings)))
        if glued_row:
            glued[key] = (window, readings)
        elif window and all(c.kind == "blank" for c in window):
            out.put("applications", key, orders[0], [window[0]] * n)  # a row printed without figures
        elif len(readings) > 1:
            out.put_cuts("applications", key, list(APPLICANT_COLUMNS), window, readings)
        else:
            out.put("applications", key, orders[0], window)
    _put_glued_applications(out, list(APPLICANT_COLUMNS), glued)
    return fits


def _total_orders(order: list[str], rows: list[list[GridCell]]) -> list[list[str]]:
    """The column orders table 3 may have: the header's, unless the figures say the
    total is elsewhere (a header flattened out of its merged cells can name 总计 before
    自然人, while in every row the last figure is the sum of the others).  Where the
    figures cannot tell (each row adds up either way), both: the cells they disagree
    on are then left unknown rather than guessed."""
    if order[-1] == "total":
        return [order]
    last = [k for k in order if k != "total"] + ["total"]

    def adds_up(total_at: int) -> int:
        rule, count = row_sum_rule(total_at), 0
        for cells in rows:
            values = [read_value(c).value for c in cells]
            if len(values) == len(order) and all(type(v) in (int, float) for v in values) and any(values):
                count += rule(values)
        return count

    at_end, as_named = adds_up(len(order) - 1), adds_up(order.index("total"))
    if at_end > as_named:
        return [last]
    if at_end < as_named:
        return [order]
    return [order, last]


def _put_glued_applications(out: _Out, order: list[str],
                            glued: dict[str, tuple[list[GridCell], list[list[GridCell]]]]) -> None:
    """Table 3's glued rows, their cuts narrowed by the column identities against
    every row (the rows read as they stand are known already)."""
    if not glued:
        return
    def values(cells: list[GridCell]) -> list:
        # (a blank a cut places adds nothing to the column's sums)
        return [0 if c.kind == "blank" else read_value(c).value for c in cells]

    known = {key: [[row.get(col) for col in order]] for key, row in out.tables.get("applications", {}).items()}
    candidates = {key: [values(cut) for cut in cuts] for key, (_, cuts) in glued.items()}
    resolved = resolve_columns({**known, **candidates}, list(_RESULT_ROWS), len(order))
    for key, (window, cuts) in glued.items():
        kept = [cut for cut in cuts if values(cut) in resolved[key]]
        out.put_cuts("applications", key, order, window, kept or cuts)


def _separated(cells: list[GridCell]) -> bool:
    """Whether a row's figures stand apart in the text (a space, tab or line between
    them), so each may be whole, with blank cells dropped around them."""
    return len(cells) >= 2 and all(a.end < b.start for a, b in zip(cells, cells[1:]))


_RESULT_ROWS = tuple(k for k in _APPLICATION_ORDER if k not in ("new_received", "carried_over",
                                                                 "results_total", "carried_forward"))


def _confidence(probs: list[float], expected: int, fits: list[bool]) -> float:
    """Mean row probability, scaled down for missing rows and ill-fitting rows."""
    if not probs:
        return 0.0
    coverage = min(1.0, len(probs) / expected)
    fit = sum(fits) / len(fits)
    mean = float(np.add.reduce(np.array(probs)) / len(probs))  # np.mean's sum, without its overhead
    return round(mean * (0.5 + 0.5 * coverage) * (0.5 + 0.5 * fit), 4)


def _in_template_order(table: str, rows: dict[str, dict]) -> dict[str, dict]:
    keys = [k for t, k in TEMPLATE if t == table]
    return {k: rows[k] for k in keys if k in rows}
