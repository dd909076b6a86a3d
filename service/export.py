"""Export an archive (``service.archive``) to Excel, CSV or Parquet.

XLSX: one sheet per table laid out like the report — a block per report headed by
its agency and year, the template's rows with their Chinese labels down the side and
the columns' Chinese labels across — then a sheet of prose metrics and one of failed
checks.  CSV and Parquet: the archive's tables in their long form, one file each, in
the ``--out`` folder.  ``agency`` (a name or key, matched in part) and ``year`` filter
the reports.
"""

from __future__ import annotations

from pathlib import Path

from service import archive
from service.template import (
    ACTIVE_2019,
    ACTIVE_2021,
    ACTIVE_COLUMN_LABELS,
    APPLICANT_COLUMN_LABELS,
    APPLICANT_COLUMNS,
    APPLICATION_ROWS_2021,
    OTHER_HANDLING_2019,
    REVIEW_COLUMN_LABELS,
    REVIEW_COLUMNS,
    REVIEW_GROUPS,
    table_schema,
)

FORMATS = ("xlsx", "csv", "parquet")
SHEET_TITLES = {"active_disclosure": "二、主动公开", "applications": "三、依申请公开",
                "review_litigation": "四、复议诉讼"}


def _selected(con, agency: str | None, year: int | None) -> list[tuple]:
    """(id, source, agency, agency_key, year, layout) of the stored reports the filters keep."""
    return [(r["id"], r["source"], r["agency"], r["agency_key"], r["year"], r["layout"])
            for r in archive.list_reports(con, agency, year, limit=10**9) if r["error_code"] is None]


def export(db: str | Path, fmt: str, out: str | Path, agency: str | None = None,
           year: int | None = None) -> int:
    """Write the export; returns how many reports it holds."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    con = archive.connect(db, create=False, read_only=True)
    try:
        reports = _selected(con, agency, year)
        if fmt == "xlsx":
            _xlsx(con, reports, Path(out))
        else:
            _long_form(con, reports, Path(out), fmt)
        return len(reports)
    finally:
        con.close()


def _long_form(con, reports: list[tuple], out: Path, fmt: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    ids = archive.sql_ids(r[0] for r in reports)
    options = "FORMAT csv, HEADER" if fmt == "csv" else "FORMAT parquet"
    for table in ("reports", *archive.CHILD_TABLES):
        column = "id" if table == "reports" else "report_id"
        target = str(out / f"{table}.{fmt}").replace("'", "''")
        con.execute(f"COPY (SELECT * FROM {table} WHERE {column} IN ({ids}) ORDER BY {column}) "
                    f"TO '{target}' ({options})")


def rows_and_columns(table: str, layout: str | None) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(row key, Chinese label) and (column key, Chinese label) of a table's layout."""
    if table == "active_disclosure":
        rows = ACTIVE_2019 if layout == "2019" else ACTIVE_2021
        cols: list[str] = []
        for _, (_, keys) in rows.items():
            cols += [k for k in keys if k not in cols]
        return [(k, label) for k, (label, _) in rows.items()], [(c, ACTIVE_COLUMN_LABELS[c]) for c in cols]
    if table == "applications":
        labels = dict(APPLICATION_ROWS_2021)
        labels[OTHER_HANDLING_2019[0]] = OTHER_HANDLING_2019[1]
        keys = list(table_schema("applications", layout or "2021"))
        return [(k, labels[k]) for k in keys], [(c, APPLICANT_COLUMN_LABELS[c]) for c in APPLICANT_COLUMNS]
    return ([(g, label) for g, label in REVIEW_GROUPS.items()],
            [(c, REVIEW_COLUMN_LABELS[c]) for c in REVIEW_COLUMNS])


def _xlsx(con, reports: list[tuple], out: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    bold = Font(bold=True)
    book = Workbook()
    book.remove(book.active)
    cells: dict[int, dict[tuple[str, str, str], tuple]] = {}
    for report_id, table, row, col, value, raw in con.execute(
            "SELECT report_id, table_key, row_key, col_key, value, raw FROM cells "
            f"WHERE report_id IN ({archive.sql_ids(r[0] for r in reports)})").fetchall():
        cells.setdefault(report_id, {})[(table, row, col)] = (value, raw)
    for table, title in SHEET_TITLES.items():
        sheet = book.create_sheet(title)
        line = 1
        for report_id, source, agency, _, year, layout in reports:
            sheet.cell(line, 1, f"{agency or '（机关未知）'} {year or '（年度未知）'}").font = bold
            sheet.cell(line, 2, source)
            rows, cols = rows_and_columns(table, layout)
            for j, (_, label) in enumerate(cols):
                sheet.cell(line + 1, j + 2, label).font = bold
            for i, (row_key, label) in enumerate(rows):
                sheet.cell(line + 2 + i, 1, label)
                for j, (col_key, _) in enumerate(cols):
                    value, raw = cells.get(report_id, {}).get((table, row_key, col_key), (None, None))
                    if value is not None:
                        sheet.cell(line + 2 + i, j + 2, int(value) if float(value).is_integer() else value)
                    elif raw:
                        sheet.cell(line + 2 + i, j + 2, raw)  # a dash or a word as printed
            line += len(rows) + 3
        sheet.column_dimensions["A"].width = 40
    ids = [r[0] for r in reports] or [-1]
    marks = ", ".join("?" * len(ids))
    for title, sql, header in (
            ("文中指标", f"SELECT r.agency, r.year, m.type, m.channel, m.value, m.unit, m.confidence, m.text "
                      f"FROM metrics m JOIN reports r ON r.id = m.report_id WHERE r.id IN ({marks}) "
                      f"ORDER BY r.agency_key, r.year, m.start",
             ("机关", "年度", "type", "channel", "value", "unit", "confidence", "text")),
            ("未通过的校验", f"SELECT r.agency, r.year, c.rule, c.scope, c.expected, c.found, c.detail "
                         f"FROM checks c JOIN reports r ON r.id = c.report_id WHERE r.id IN ({marks}) "
                         f"AND c.ok = false ORDER BY r.agency_key, r.year",
             ("机关", "年度", "rule", "scope", "expected", "found", "detail"))):
        sheet = book.create_sheet(title)
        sheet.append(list(header))
        for row in con.execute(sql, ids).fetchall():
            sheet.append(list(row))
    out.parent.mkdir(parents=True, exist_ok=True)
    book.save(out)
