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


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def store(con, *, source: str, sha256: str, result: dict, models_version: str) -> int:
    """Store one report (an extraction's JSON dict, or ``{"error": {"code", "detail"}}``)
    in one transaction, replacing what was stored of the same file.  Returns its id."""
    now = _dt.datetime.now(_dt.UTC).replace(tzinfo=None)
    info = result.get("report") or {}
    error = result.get("error") or {}
    con.execute("BEGIN TRANSACTION")
    try:
        old = con.execute("SELECT id FROM reports WHERE sha256 = ?", [sha256]).fetchone()
        if old:
            for table in CHILD_TABLES:
                con.execute(f"DELETE FROM {table} WHERE report_id = ?", [old[0]])
            con.execute("DELETE FROM reports WHERE id = ?", [old[0]])
        report_id = con.execute("SELECT nextval('report_ids')").fetchone()[0]
        con.execute("INSERT INTO reports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            report_id, source, sha256, info.get("agency"), info.get("agency_key"), info.get("year"),
            info.get("title"), info.get("published"), result.get("layout"), result.get("format"),
            models_version, error.get("code"), error.get("detail"), now])
        if not error:
            _store_children(con, report_id, result)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return report_id


def _store_children(con, report_id: int, result: dict) -> None:
    sections = [(report_id, s["key"], s.get("heading"), s["start"], s["end"]) for s in result.get("sections", [])]
    flags = {f["cell"]: f["reason"] for f in result.get("cell_flags", [])}
    provenance = result.get("provenance", {})
    cells = []
    for table, rows in (result.get("tables") or {}).items():
        for row, cols in rows.items():
            for col, value in cols.items():
                key = f"{table}.{row}.{col}"
                start, end = provenance.get(key, (None, None))
                raw = None if value is None else str(value)
                cells.append((report_id, table, row, col, _number(value), raw, flags.get(key), start, end))
    metrics = [(report_id, m["type"], m.get("channel"), _number(m["value"]), m.get("unit"), m.get("confidence"),
                m["start"], m["end"], m.get("text")) for m in result.get("metrics", [])]
    checks = [(report_id, c["rule"], c["scope"], c["ok"], c.get("expected"), c.get("found"), c.get("detail"))
              for c in result.get("checks", [])]
    for table, rows in (("sections", sections), ("cells", cells), ("metrics", metrics), ("checks", checks)):
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            con.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
