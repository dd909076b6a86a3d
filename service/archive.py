"""The archive: many reports' extractions in one embedded DuckDB database.

One report is stored in one transaction — its ``reports`` row and all its sections,
cells, metrics and checks, or nothing — so a run killed at any moment leaves no half
report, and a re-run stores what is missing.  A report is known by the SHA-256 of its
file: stored once, whatever its path.  A file that cannot be read is a ``reports``
row with its error code and detail.

The schema is versioned (``meta.schema_version``); a database of another version is
refused with a clear message rather than read wrongly.  DuckDB lets one process write
a database at a time; a second writer is refused with a clear message too.

    reports(id, source, sha256, agency, agency_key, year, title, published, layout,
            format, models_version, error_code, error_detail, extracted_at)
    sections(report_id, key, heading, start, end)
    cells(report_id, table_key, row_key, col_key, value, raw, flag, start, end)
    metrics(report_id, type, channel, value, unit, confidence, start, end, text)
    checks(report_id, rule, scope, ok, expected, found, detail)
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

#: The version of the schema this code writes and reads.
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE SEQUENCE IF NOT EXISTS report_ids START 1;
CREATE TABLE IF NOT EXISTS reports (
    id BIGINT PRIMARY KEY, source VARCHAR, sha256 VARCHAR UNIQUE, agency VARCHAR, agency_key VARCHAR,
    year INTEGER, title VARCHAR, published VARCHAR, layout VARCHAR, format VARCHAR,
    models_version VARCHAR, error_code VARCHAR, error_detail VARCHAR, extracted_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS sections (
    report_id BIGINT, key VARCHAR, heading VARCHAR, "start" INTEGER, "end" INTEGER);
CREATE TABLE IF NOT EXISTS cells (
    report_id BIGINT, table_key VARCHAR, row_key VARCHAR, col_key VARCHAR, value DOUBLE, raw VARCHAR,
    flag VARCHAR, "start" INTEGER, "end" INTEGER);
CREATE TABLE IF NOT EXISTS metrics (
    report_id BIGINT, type VARCHAR, channel VARCHAR, value DOUBLE, unit VARCHAR, confidence DOUBLE,
    "start" INTEGER, "end" INTEGER, text VARCHAR);
CREATE TABLE IF NOT EXISTS checks (
    report_id BIGINT, rule VARCHAR, scope VARCHAR, ok BOOLEAN, expected DOUBLE, found DOUBLE, detail VARCHAR);
"""

CHILD_TABLES = ("sections", "cells", "metrics", "checks")


class ArchiveError(Exception):
    """A database that cannot be used (in use, another schema version, not a database)."""


@dataclass(frozen=True)
class Stored:
    """What the archive holds of a file already: its id and the models that read it."""

    id: int
    models_version: str | None
    error_code: str | None


def connect(path: str | Path, *, create: bool = True, read_only: bool = False):
    """Open (and with ``create``, make) an archive; raises ``ArchiveError`` in one line."""
    import duckdb

    path = Path(path)
    if not create and not path.exists():
        raise ArchiveError(f"{path}: no such database")
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise ArchiveError(f"{path}: the database is in use by another process "
                               "(a batch is running on it); wait for it to finish") from None
        raise ArchiveError(f"{path}: cannot open the database: {exc}") from None
    except duckdb.Error as exc:
        raise ArchiveError(f"{path}: not a govreport database ({exc})") from None
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if "meta" in tables:
            row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row else None
            if version != SCHEMA_VERSION:
                con.close()
                raise ArchiveError(f"{path}: schema version {version} is not this govreport's "
                                   f"({SCHEMA_VERSION}); export it with the version that wrote it")
        elif tables:
            con.close()
            raise ArchiveError(f"{path}: a database that govreport did not write (no schema version)")
        elif read_only:
            con.close()
            raise ArchiveError(f"{path}: an empty database (no report stored yet)")
        else:
            con.execute(_SCHEMA)
            con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
    except ArchiveError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to read the schema is one clear line
        con.close()
        raise ArchiveError(f"{path}: not a govreport database ({exc})") from None
    return con


def stored(con) -> dict[str, Stored]:
    """sha256 -> what is stored of that file."""
    return {sha: Stored(i, version, error) for sha, i, version, error in
            con.execute("SELECT sha256, id, models_version, error_code FROM reports").fetchall()}


def sql_ids(ids) -> str:
    """Report ids written into an ``IN (…)`` list (integers: safe in the SQL; ``-1`` for
    none, which no report has)."""
    return ", ".join(str(int(i)) for i in ids) or "-1"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


#: Column names of the tables, in schema order.
COLUMNS = {
    "reports": ("id", "source", "sha256", "agency", "agency_key", "year", "title", "published", "layout",
                "format", "models_version", "error_code", "error_detail", "extracted_at"),
    "sections": ("report_id", "key", "heading", "start", "end"),
    "cells": ("report_id", "table_key", "row_key", "col_key", "value", "raw", "flag", "start", "end"),
    "metrics": ("report_id", "type", "channel", "value", "unit", "confidence", "start", "end", "text"),
    "checks": ("report_id", "rule", "scope", "ok", "expected", "found", "detail"),
}


@cache
def _arrow_schema(table: str):
    """The Arrow schema of ``table``'s columns, read off the SQL schema above (child
    tables: without report_id, which the writer adds).  Given, not inferred: every
    report's rows get the same types whatever their values (all null, all whole), and
    pyarrow's inference also tries to import dateutil once a column."""
    import re

    import pyarrow as pa

    arrow = {"VARCHAR": pa.string(), "INTEGER": pa.int32(), "BIGINT": pa.int64(), "DOUBLE": pa.float64(),
             "BOOLEAN": pa.bool_(), "TIMESTAMP": pa.timestamp("us")}
    body = _SCHEMA.split(f"CREATE TABLE IF NOT EXISTS {table} (", 1)[1].split(");", 1)[0]
    types = dict(re.findall(r'"?(\w+)"? (' + "|".join(arrow) + ")", body))
    names = COLUMNS[table] if table == "reports" else COLUMNS[table][1:]
    return pa.schema([(name, arrow[types[name]]) for name in names])


@dataclass(frozen=True)
class Prepared:
    """A report's rows, as Arrow tables ready to store (made where it was extracted: a
    batch's workers, so that the one writer only concatenates them)."""

    report: dict                     # reports' fields but id and models_version
    tables: dict[str, Any]           # child table -> pyarrow.Table of its columns but report_id

    def rows(self, table: str) -> int:
        return self.tables[table].num_rows


def prepare(result: dict) -> Prepared:
    """An extraction's JSON dict (or ``{"error": {"code", "detail"}}``) as rows to store."""
    info, error = result.get("report") or {}, result.get("error") or {}
    report = {"agency": info.get("agency"), "agency_key": info.get("agency_key"), "year": info.get("year"),
              "title": info.get("title"), "published": info.get("published"), "layout": result.get("layout"),
              "format": result.get("format"), "error_code": error.get("code"), "error_detail": error.get("detail")}
    columns: dict[str, dict[str, list]] = {t: {c: [] for c in COLUMNS[t][1:]} for t in CHILD_TABLES}
    if error:
        return Prepared(report, _arrow_tables(columns))
    flags = {f["cell"]: f["reason"] for f in result.get("cell_flags", [])}
    provenance = result.get("provenance", {})
    cells = columns["cells"]
    for table, rows in (result.get("tables") or {}).items():
        for row, cols in rows.items():
            for col, value in cols.items():
                key = f"{table}.{row}.{col}"
                start, end = provenance.get(key, (None, None))
                for name, v in (("table_key", table), ("row_key", row), ("col_key", col), ("value", _number(value)),
                                ("raw", None if value is None else str(value)), ("flag", flags.get(key)),
                                ("start", start), ("end", end)):
                    cells[name].append(v)
    for table, source, fields in (
            ("sections", result.get("sections", []), ("key", "heading", "start", "end")),
            ("metrics", result.get("metrics", []), ("type", "channel", "value", "unit", "confidence", "start",
                                                    "end", "text")),
            ("checks", result.get("checks", []), ("rule", "scope", "ok", "expected", "found", "detail"))):
        for item in source:
            for name in fields:
                value = item.get(name)
                columns[table][name].append(_number(value) if name == "value" else value)
    return Prepared(report, _arrow_tables(columns))


def _arrow_tables(columns: dict[str, dict[str, list]]) -> dict[str, Any]:
    import pyarrow as pa

    return {table: pa.table(values, schema=_arrow_schema(table)) for table, values in columns.items()}


@dataclass(frozen=True)
class Item:
    """One file's result to store."""

    source: str
    sha256: str
    prepared: Prepared
    replace: bool = True  # remove what was stored of the same file first


def store(con, *, source: str, sha256: str, result: dict, models_version: str, replace: bool = True) -> int:
    """Store one report in one transaction (see ``store_many``).  Returns its id."""
    return store_many(con, [Item(source, sha256, prepare(result), replace)], models_version)[0]


def store_many(con, items: list[Item], models_version: str) -> list[int]:
    """Store reports whole in one transaction: each with all its rows, or (killed
    before the commit) none of them.  A statement costs DuckDB about a millisecond
    whatever its rows, so a batch whose workers finish reports faster than one
    transaction each can be written stores those that waited together (see
    ``batch.arrival_groups``).  Returns their ids."""
    if not items:
        return []
    import pyarrow as pa

    now = _dt.datetime.now(_dt.UTC).replace(tzinfo=None)
    con.execute("BEGIN TRANSACTION")
    try:
        replaced = [it.sha256 for it in items if it.replace]
        if replaced:
            marks = ", ".join("?" * len(replaced))
            old = [r[0] for r in con.execute(f"SELECT id FROM reports WHERE sha256 IN ({marks})",
                                             replaced).fetchall()]
            if old:
                ids = ", ".join(str(int(i)) for i in old)
                for table in CHILD_TABLES:
                    con.execute(f"DELETE FROM {table} WHERE report_id IN ({ids})")
                con.execute(f"DELETE FROM reports WHERE id IN ({ids})")
        ids = [r[0] for r in con.execute("SELECT nextval('report_ids') FROM range(?)", [len(items)]).fetchall()]
        reports: dict[str, list] = {c: [] for c in COLUMNS["reports"]}
        for report_id, it in zip(ids, items):
            row = {"id": report_id, "source": it.source, "sha256": it.sha256, "models_version": models_version,
                   "extracted_at": now, **it.prepared.report}
            for name in COLUMNS["reports"]:
                reports[name].append(row[name])
        _insert(con, "reports", pa.table(reports, schema=_arrow_schema("reports")))
        for table in CHILD_TABLES:
            report_ids = [report_id for report_id, it in zip(ids, items) for _ in range(it.prepared.rows(table))]
            if report_ids:
                rows = pa.concat_tables([it.prepared.tables[table] for it in items])
                _insert(con, table, rows.add_column(0, "report_id", pa.array(report_ids, pa.int64())))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return ids


def _insert(con, table: str, rows) -> None:
    """An Arrow table's rows into a table in one statement (``executemany`` runs a
    statement per row: 150 ms a report; registering the Arrow table as a view costs
    twice the insert itself)."""
    con.from_arrow(rows).insert_into(table)


# --- reading -------------------------------------------------------------------------

_REPORT_COLUMNS = COLUMNS["reports"][:-1]  # (not extracted_at)


def _report_rows(con, where: str, args: list, tail: str = "") -> list[dict]:
    sql = f"SELECT {', '.join(_REPORT_COLUMNS)} FROM reports WHERE {where} {tail}"
    return [dict(zip(_REPORT_COLUMNS, row)) for row in con.execute(sql, args).fetchall()]


def list_reports(con, agency: str | None = None, year: int | None = None, limit: int = 1000) -> list[dict]:
    """The stored reports, by agency, year and id; ``agency`` matches a name or key in part."""
    where, args = ["true"], []
    if agency:
        where.append("(agency LIKE ? OR agency_key LIKE ?)")
        args += [f"%{agency}%", f"%{agency}%"]
    if year is not None:
        where.append("year = ?")
        args.append(year)
    return _report_rows(con, " AND ".join(where), [*args, limit],
                        "ORDER BY agency_key NULLS LAST, year NULLS LAST, id LIMIT ?")


def load_report(con, report_id: int) -> dict | None:
    """One stored report: its row and its sections, tables, metrics and checks."""
    rows = _report_rows(con, "id = ?", [report_id])
    if not rows:
        return None
    out = rows[0]
    out["sections"] = [dict(zip(("key", "heading", "start", "end"), r)) for r in con.execute(
        'SELECT key, heading, "start", "end" FROM sections WHERE report_id = ? ORDER BY "start"',
        [report_id]).fetchall()]
    tables: dict = {}
    provenance: dict = {}
    for table, row, col, value, raw, start, end in con.execute(
            'SELECT table_key, row_key, col_key, value, raw, "start", "end" FROM cells WHERE report_id = ?',
            [report_id]).fetchall():
        shown = raw if value is None else int(value) if float(value).is_integer() else value
        tables.setdefault(table, {}).setdefault(row, {})[col] = shown
        if start is not None:
            provenance[f"{table}.{row}.{col}"] = [start, end]
    out["tables"], out["provenance"] = tables, provenance
    out["metrics"] = [dict(zip(("type", "channel", "value", "unit", "confidence", "start", "end", "text"), r))
                      for r in con.execute('SELECT type, channel, value, unit, confidence, "start", "end", text '
                                           'FROM metrics WHERE report_id = ? ORDER BY "start"',
                                           [report_id]).fetchall()]
    out["checks"] = [dict(zip(("rule", "scope", "ok", "expected", "found", "detail"), r))
                     for r in con.execute("SELECT rule, scope, ok, expected, found, detail FROM checks "
                                          "WHERE report_id = ?", [report_id]).fetchall()]
    return out
