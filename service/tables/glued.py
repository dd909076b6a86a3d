"""Figures glued together, split by the table's own arithmetic.

Text that lost its cell separators prints a row of seven cells as one digit string
(``190000019`` for 19 0 0 0 0 0 19) or as a few (``00 0 0 0 00``).  The digits are
still all there and in order, so a row's cells are one way of cutting its digit
strings into as many numbers as the row has columns, none with a leading zero.
Which way is decided by the template's identities (勾稽关系): a table-3 row's six
applicant columns add up to its total, each table-4 group's four outcomes add up to
its total, table 3's columns balance across rows (``resolve_columns``), and table 2
keeps in_force >= issued - repealed (``active_rule``).  A table whose rows leave the
same cells blank is read by the columns it prints (``blank_patterns``).  Where more
than one cut satisfies every identity, the cells the cuts disagree on are left
unknown with the candidates; a wrong number is worse than a missing one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from itertools import combinations

from service.numbers import fold
from service.tables.grid import GridCell

#: More ways to cut a row than this and the row is left unread (a row of 15 cells
#: glued into one 30-digit string has millions).
MAX_SPLITS = 5000

_DIGITS = re.compile(r"\d+(?:\.\d+)?")

Rule = Callable[[Sequence[int | float]], bool]


def looks_glued(cells: list[GridCell], n: int) -> bool:
    """Fewer figures than ``n`` columns and no blank cell to place them: figures run
    together (26, five blanks and 26 printed as ``2626``) or blank cells dropped by the
    text (``0 0``), whether or not a cut into ``n`` numbers exists.  Which columns
    such figures belong to is then for the table's arithmetic to say, or unknown."""
    filled = [c for c in cells if c.kind != "blank"]
    return (len(cells) < n and len(filled) == len(cells) and bool(filled)
            and all(_DIGITS.fullmatch(fold(c.text)) for c in filled))


def can_split(cells: list[GridCell], n: int) -> bool:
    """Whether ``cells`` look glued and hold digits enough to make ``n`` numbers."""
    return looks_glued(cells, n) and sum(_digit_count(c.text) for c in cells) >= n


def _digit_count(text: str) -> int:
    """How many numbers ``text`` can be cut into at most (its decimals go with the last)."""
    return sum(ch.isdigit() for ch in text.split(".")[0]) + (1 if "." in text else 0)


def _cuts(text: str, parts: int) -> list[list[tuple[int, int]]]:
    """Every way to cut ``text`` (digits, maybe one decimal point) into ``parts``
    numbers without leading zeros, as (start, end) offsets; only the last number
    may hold the decimal point."""
    folded = fold(text)
    point = folded.find(".")
    out: list[list[tuple[int, int]]] = []

    def go(pos: int, left: int, acc: list[tuple[int, int]]) -> None:
        if len(out) > MAX_SPLITS:
            return
        if left == 1:
            piece = folded[pos:]
            if piece and (piece[0] != "0" or len(piece) == 1 or piece[1] == "."):
                out.append(acc + [(pos, len(folded))])
            return
        limit = point if point >= 0 else len(folded)
        for end in range(pos + 1, limit - left + 2):
            if folded[pos] == "0" and end > pos + 1:
                break
            go(end, left - 1, acc + [(pos, end)])

    go(0, parts, [])
    return out


def _value(text: str) -> int | float:
    return float(text) if "." in text else int(text)


def splits(cells: list[GridCell], n: int, rule: Rule | None = None) -> list[list[GridCell]]:
    """Every way to cut ``cells`` into ``n`` cells that ``rule`` accepts (all ways
    when no rule is given), at most ``MAX_SPLITS``; [] when there are more."""
    found: list[list[GridCell]] = []
    too_many = False

    def go(i: int, left: int, acc: list[GridCell]) -> None:
        nonlocal too_many
        if too_many:
            return
        if i == len(cells):
            if left == 0 and (rule is None or rule([_value(fold(c.text)) for c in acc])):
                found.append(list(acc))
                too_many = len(found) > MAX_SPLITS
            return
        cell = cells[i]
        rest = len(cells) - i - 1
        for parts in range(1, left - rest + 1):
            for cut in _cuts(cell.text, parts):
                pieces = [GridCell(cell.text[a:b], cell.start + a, cell.start + b, "value") for a, b in cut]
                go(i + 1, left - parts, acc + pieces)

    go(0, n, [])
    return [] if too_many else found


def row_sum_rule(total_at: int) -> Rule:
    """The other cells add up to the one at ``total_at``."""
    def rule(values: Sequence[int | float]) -> bool:
        return abs(sum(values) - 2 * values[total_at]) < 1e-6
    return rule


def group_sum_rule(totals: list[int], size: int) -> Rule:
    """Each group of ``size`` cells adds up to its cell at ``totals[g]`` (within the group)."""
    def rule(values: Sequence[int | float]) -> bool:
        return all(abs(sum(values[g * size:(g + 1) * size]) - 2 * values[g * size + t]) < 1e-6
                   for g, t in enumerate(totals))
    return rule


def active_rule(cols: Sequence[str]) -> Rule | None:
    """What a table-2 row's figures must satisfy, whatever the report: documents in
    force at the year's end are those in force before it plus this year's issued less
    this year's repealed, so in_force >= issued - repealed; and everything published
    this year is among what is public, so total_public >= published."""
    at = {c: i for i, c in enumerate(cols)}
    if {"issued", "repealed", "in_force"} <= at.keys():
        i, r, f = at["issued"], at["repealed"], at["in_force"]
        return lambda v: v[f] >= v[i] - v[r]
    if {"published", "total_public"} <= at.keys():
        p, t = at["published"], at["total_public"]
        return lambda v: v[t] >= v[p]
    return None


def placements(cells: list[GridCell], n: int, rule: Rule | None = None) -> list[list[GridCell]]:
    """Every way to set a row's figures, each whole and in order, into ``n`` columns
    with the others blank, that ``rule`` accepts (a blank adding nothing): a page's
    text that dropped the row's empty cells (821 35 2 1 859 for seven columns)."""
    texts = [fold(c.text) for c in cells]
    if not 2 <= len(cells) < n or any(t[0] == "0" and t[1:2].isdigit() for t in texts):
        return []  # (00 is two figures glued, not one)
    values = [_value(t) for t in texts]
    out = []
    for columns in combinations(range(n), len(cells)):
        row_values: list[int | float] = [0] * n
        row: list[GridCell] = [GridCell("", cells[0].start, cells[0].start, "blank")] * n
        for col, cell, value in zip(columns, cells, values):
            row[col], row_values[col] = cell, value
        if rule is None or rule(row_values):
            out.append(row)
    return out


def read_glued(cells: list[GridCell], n: int, rule: Rule | None, forced: bool = False) -> list[list[GridCell]]:
    """The candidate cuts of a glued row: those the rule accepts.  None may: the
    report's own figures may not add up, or the row had blank cells (2581211 is 258,
    12, three blanks, 1, 1 and a blank total), and then a cut into ``n`` numbers is
    wrong.  Only where the caller knows the table leaves no cell blank (``forced``) is
    the one cut the digit count allows (8100008 into seven cells) taken: the row as
    printed, which the audit then finds does not add up."""
    found = splits(cells, n, rule)
    if not found and forced and rule is not None:
        every = splits(cells, n, None)
        if len(every) == 1:
            return every
    return found


def resolve_columns(rows: dict[str, list[list[int | float | None]]], result_rows: list[str],
                    width: int) -> dict[str, list[list[int | float | None]]]:
    """Table 3's candidate rows narrowed by its column identities.

    ``rows`` maps a row key to its candidate value lists (one list: the row is known).
    Per column, results_total = the sum of the result rows, and new_received +
    carried_over = results_total + carried_forward.  A row's candidates are scored by
    how many of those equations hold with them where every other row involved is
    known; only the best-scoring ones are kept (a report whose own figures do not add
    up keeps the cut that agrees with most of them).  Repeated until nothing changes.
    """
    rows = {k: list(v) for k, v in rows.items()}
    present_results = [k for k in result_rows if k in rows]

    def known(key: str) -> list[int | float | None] | None:
        cands = rows.get(key)
        return cands[0] if cands and len(cands) == 1 else None

    def agreement(key: str, cand: list[int | float | None]) -> int:
        # (an equation without this row adds the same to every candidate of it)
        def value_in(c: int) -> Callable[[str], int | float | None]:
            def value(k: str) -> int | float | None:
                row = cand if k == key else known(k)
                return None if row is None else row[c]
            return value

        return sum(sum(_column_equations(value_in(c), present_results)) for c in range(width))

    changed = True
    while changed:
        changed = False
        for key, cands in rows.items():
            if len(cands) < 2:
                continue
            scores = [agreement(key, c) for c in cands]
            kept = [c for c, s in zip(cands, scores) if s == max(scores)]
            if len(kept) < len(cands):
                rows[key] = kept
                changed = True
    return rows


def blank_patterns(rows: dict[str, list[GridCell]], order: list[str], result_rows: list[str],
                   ) -> list[tuple[list[str], dict[str, list[GridCell]]]]:
    """The sets of columns a glued table 3 may print, when its rows leave the same
    cells blank.

    A table whose 法人或其他组织 cells are all blank prints ``26, five blanks, 26`` as
    ``2626`` once its whitespace is lost.  A set of printed columns (the total and some
    of the others, in ``order``) fits when it cuts every row in exactly one way that
    adds up and, with those cuts, every column identity of the table holds.  Returns
    each fitting set with each row's cells; the caller keeps what they all agree on.
    """
    others = [c for c in order if c != "total"]
    found: list[tuple[list[str], dict[str, list[GridCell]]]] = []
    for mask in range(1, 2 ** len(others)):
        printed = [c for c in order if c == "total" or (mask >> others.index(c)) & 1]
        rule = row_sum_rule(printed.index("total"))
        cut_rows: dict[str, list[GridCell]] = {}
        for key, cells in rows.items():
            cuts = splits(cells, len(printed), rule)
            if len(cuts) != 1:
                break
            cut_rows[key] = cuts[0]
        else:
            if _identities_hold(cut_rows, printed, result_rows):
                found.append((printed, cut_rows))
    return found


def _identities_hold(rows: dict[str, list[GridCell]], printed: list[str], result_rows: list[str]) -> bool:
    """Table 3's column identities on the printed columns, where their rows are there."""
    values = {k: [_value(fold(c.text)) for c in cells] for k, cells in rows.items()}
    present_results = [k for k in result_rows if k in values]
    return all(all(_column_equations(lambda k, c=c: values[k][c] if k in values else None, present_results))
               for c in range(len(printed)))


_BALANCE_ROWS = ("new_received", "carried_over", "results_total", "carried_forward")


def _column_equations(value: Callable[[str], int | float | None], result_rows: list[str]) -> list[bool]:
    """For one column of table 3 (``value`` of a row key, None where unknown or absent):
    whether each identity whose figures are all known holds.  new_received +
    carried_over = results_total + carried_forward; results_total = the sum of
    ``result_rows`` (the result rows the table has)."""
    held = []
    balance = [value(k) for k in _BALANCE_ROWS]
    if None not in balance:
        held.append(abs(balance[0] + balance[1] - balance[2] - balance[3]) < 1e-6)
    total, parts = value("results_total"), [value(k) for k in result_rows]
    if total is not None and parts and None not in parts:
        held.append(abs(sum(parts) - total) < 1e-6)
    return held
