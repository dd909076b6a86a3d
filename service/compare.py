"""An agency's reports year by year, and the checks that span two years.

For each agency (``reports.agency_key``): every table cell and prose metric by year
with its change, and the cross-year identities, each a check in the shape of the
single-report ones plus the two reports it involves:

- ``cross_year.carried``: table 3's carried forward of year N = carried over of year
  N+1, in every column (one check per pair of years, naming the columns that differ);
- ``cross_year.in_force``: table 2's in force of year N + issued of N+1 − repealed of
  N+1 = in force of N+1, for regulations and normative documents (2021 layout);
- ``cross_year.missing_year``: a year between two reported years with no report.
"""

from __future__ import annotations

from pathlib import Path

from service import archive
from service.template import APPLICANT_COLUMNS


def _check(rule: str, scope: str, ok: bool | None, expected, found, detail: str, reports: list[int]) -> dict:
    return {"rule": rule, "scope": scope, "ok": ok, "expected": expected, "found": found,
            "detail": detail, "reports": reports}


def compare(db: str | Path, agency: str | None = None) -> list[dict]:
    """Per agency: its years, its figures by year, and the cross-year checks."""
    con = archive.connect(db, create=False, read_only=True)
    try:
        sql = ("SELECT id, agency, agency_key, year FROM reports WHERE error_code IS NULL AND year IS NOT NULL "
               "AND agency_key IS NOT NULL")
        args: list = []
        if agency:
            sql += " AND (agency_key = ? OR agency = ? OR agency_key LIKE ?)"
            args += [agency, agency, f"%{agency}%"]
        reports = con.execute(sql + " ORDER BY agency_key, year, id", args).fetchall()
        ids = archive.sql_ids(r[0] for r in reports)  # (only the agencies compared: not the whole archive)
        cells: dict[int, dict[str, float | None]] = {}
        for report_id, table, row, col, value in con.execute(
                f"SELECT report_id, table_key, row_key, col_key, value FROM cells WHERE report_id IN ({ids})"
        ).fetchall():
            cells.setdefault(report_id, {})[f"{table}.{row}.{col}"] = value
        metrics: dict[int, dict[str, float]] = {}
        for report_id, mtype, channel, value in con.execute(
                f"SELECT report_id, type, channel, value FROM metrics WHERE report_id IN ({ids}) "
                "ORDER BY report_id, \"start\"").fetchall():
            key = f"{mtype}.{channel}" if channel else mtype
            metrics.setdefault(report_id, {}).setdefault(key, value)  # the first mention
    finally:
        con.close()
    by_agency: dict[str, list[tuple]] = {}
    for row in reports:
        by_agency.setdefault(row[2], []).append(row)
    return [_agency(key, rows, cells, metrics) for key, rows in by_agency.items()]


def _by_year(rows: list[tuple], values: dict[int, dict]) -> dict[str, dict]:
    names = sorted({k for report_id, *_ in rows for k in values.get(report_id, {})})
    out = {}
    for name in names:
        series = {str(year): values.get(report_id, {}).get(name) for report_id, _, _, year in rows}
        years = list(series)
        changes = {f"{a}→{b}": series[b] - series[a] for a, b in zip(years, years[1:])
                   if series[a] is not None and series[b] is not None}
        out[name] = {"by_year": series, "change": changes}
    return out


def _agency(key: str, rows: list[tuple], cells: dict, metrics: dict) -> dict:
    # one report per year: the latest stored (a report stored twice under two files)
    per_year: dict[int, tuple] = {}
    for row in rows:
        per_year[row[3]] = row
    rows = [per_year[y] for y in sorted(per_year)]
    checks: list[dict] = []
    for (id_a, _, _, year_a), (id_b, _, _, year_b) in zip(rows, rows[1:]):
        if year_b != year_a + 1:
            missing = ", ".join(str(y) for y in range(year_a + 1, year_b))
            checks.append(_check("cross_year.missing_year", f"{year_a}-{year_b}", False, None, None,
                                 f"no report for {missing} between {year_a} and {year_b}", [id_a, id_b]))
            continue
        a, b = cells.get(id_a, {}), cells.get(id_b, {})
        pairs = {col: (a.get(f"applications.carried_forward.{col}"), b.get(f"applications.carried_over.{col}"))
                 for col in APPLICANT_COLUMNS}
        known = {col: pair for col, pair in pairs.items() if None not in pair}
        differ = [col for col, (forward, over) in known.items() if abs(forward - over) > 1e-9]
        if differ:
            forward, over = known[differ[0]]
            checks.append(_check("cross_year.carried", ", ".join(differ), False, forward, over,
                                 "carried forward " + str(year_a) + " ≠ carried over " + str(year_b) + ": "
                                 + "; ".join(f"{c} {known[c][0]:g} vs {known[c][1]:g}" for c in differ)
                                 + f" (reports {id_a} and {id_b})", [id_a, id_b]))
        elif known:
            checks.append(_check("cross_year.carried", "all columns", True if len(known) == len(pairs) else None,
                                 known.get("total", (None, None))[0], known.get("total", (None, None))[1],
                                 f"carried forward {year_a} = carried over {year_b} in {len(known)} of "
                                 f"{len(pairs)} columns (reports {id_a} and {id_b})", [id_a, id_b]))
        else:
            checks.append(_check("cross_year.carried", "all columns", None, None, None,
                                 f"carried forward {year_a} or carried over {year_b} not known", [id_a, id_b]))
        for row in ("regulations", "normative_documents"):
            before = a.get(f"active_disclosure.{row}.in_force")
            issued, repealed = b.get(f"active_disclosure.{row}.issued"), b.get(f"active_disclosure.{row}.repealed")
            after = b.get(f"active_disclosure.{row}.in_force")
            if None in (before, issued, repealed, after):
                continue  # (the 2019 layout has no in force / issued / repealed)
            expected = before + issued - repealed
            ok = abs(expected - after) < 1e-9
            checks.append(_check("cross_year.in_force", row, ok, expected, after,
                                 f"in force {year_a} {before:g} + issued {issued:g} − repealed {repealed:g} = "
                                 f"{expected:g}; in force {year_b} = {after:g} (reports {id_a} and {id_b})",
                                 [id_a, id_b]))
    return {"agency_key": key, "agency": rows[-1][1], "years": [r[3] for r in rows],
            "reports": {str(r[3]): r[0] for r in rows},
            "cells": _by_year(rows, cells), "metrics": _by_year(rows, metrics),
            "checks": checks,
            "audit": {"passed": sum(c["ok"] is True for c in checks), "failed": sum(c["ok"] is False for c in checks),
                      "unknown": sum(c["ok"] is None for c in checks)}}
