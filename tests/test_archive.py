"""The archive: batch into DuckDB (idempotent, one transaction a report, safe to kill),
export to XLSX / CSV / Parquet, compare an agency across years, the Dask engine."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from service import archive, batch
from service.compare import compare
from service.export import export

from .conftest import CORPUS, ROOT

FIXTURES = ROOT / "tests" / "fixtures"
YEARS = FIXTURES / "agency_years"


def _rows(db, sql: str) -> list[tuple]:
    con = archive.connect(db, create=False, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_batch_stores_every_file_once_and_a_rerun_stores_nothing_new(tmp_path):
    db = tmp_path / "a.duckdb"
    first = batch.run([CORPUS, FIXTURES], db, jobs=2)
    assert first.stored == first.files > 80 and first.skipped == 0
    assert first.failed == 3  # the fixtures' encrypted, scanned and truncated PDFs: rows with their codes
    again = batch.run([CORPUS, FIXTURES], db, jobs=2)
    assert again.stored == 0 and again.skipped == first.files
    (count, distinct), = _rows(db, "SELECT count(*), count(DISTINCT sha256) FROM reports")
    assert count == distinct == first.files
    errors = dict(_rows(db, "SELECT error_code, count(*) FROM reports WHERE error_code IS NOT NULL GROUP BY 1"))
    assert errors == {"pdf_encrypted": 1, "not_a_report": 1, "pdf_corrupt": 1}  # (the scan: 40 dpi)
    # the same report read again by --force replaces its rows, never duplicates them
    cells_before = _rows(db, "SELECT count(*) FROM cells")[0][0]
    forced = batch.run([CORPUS / "000_62418b5d58b13a7d.txt"], db, force=True)
    assert forced.stored == 1
    assert _rows(db, "SELECT count(*) FROM cells")[0][0] == cells_before
    assert _rows(db, "SELECT count(*) FROM reports")[0][0] == first.files


def test_a_batch_killed_midway_then_rerun_stores_every_file_exactly_once(tmp_path):
    files = tmp_path / "reports"
    files.mkdir()
    seeds = sorted(CORPUS.glob("0*.txt"))
    n = 400
    for i in range(n):  # distinct files (a line added), so each is a report of its own
        text = seeds[i % len(seeds)].read_text(encoding="utf-8") + f"\n（第{i}份）\n"
        (files / f"r{i:03d}.txt").write_text(text, encoding="utf-8")
    db = tmp_path / "k.duckdb"
    command = [sys.executable, "-m", "service.cli", "batch", str(files), "--db", str(db), "--jobs", "1"]
    run = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wal = Path(f"{db}.wal")
    deadline = time.monotonic() + 120
    while not wal.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # the first reports are being committed
    time.sleep(0.5)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    stored_before = _rows(db, "SELECT count(*) FROM reports")[0][0]
    assert 0 < stored_before < n, "the kill did not land midway: nothing was tested"
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{n - stored_before} stored" in done.stderr
    (count, distinct, sources), = _rows(db, "SELECT count(*), count(DISTINCT sha256), count(DISTINCT source) "
                                            "FROM reports")
    assert count == distinct == sources == n
    # no half report: every stored report has its cells and its checks
    for table in ("cells", "checks"):
        assert _rows(db, f"SELECT count(*) FROM reports r WHERE NOT EXISTS "
                         f"(SELECT 1 FROM {table} c WHERE c.report_id = r.id)")[0][0] == 0


def test_xlsx_export_holds_the_values_beside_their_chinese_labels(tmp_path):
    from openpyxl import load_workbook

    db = tmp_path / "x.duckdb"
    batch.run([CORPUS / "001_422783bed8123fac.txt"], db)
    out = tmp_path / "out.xlsx"
    assert export(db, "xlsx", out) == 1
    book = load_workbook(out)
    assert book.sheetnames == ["二、主动公开", "三、依申请公开", "四、复议诉讼", "文中指标", "未通过的校验"]
    gold = json.loads((CORPUS / "001_422783bed8123fac.gold.json").read_text(encoding="utf-8"))["tables"]
    sheet = book["三、依申请公开"]
    rows = {r[0]: r[1:] for r in sheet.iter_rows(values_only=True) if r[0]}
    assert rows["一、本年新收政府信息公开申请数量"][:7] == tuple(
        gold["applications"]["new_received"][c] for c in
        ("natural_person", "commercial", "research", "social_welfare", "legal_service", "other_org", "total"))
    assert next(sheet.iter_rows(values_only=True))[0] == "临淄区卫生健康局 2024"
    active = {r[0]: r[1:] for r in book["二、主动公开"].iter_rows(values_only=True) if r[0]}
    assert active["行政许可"][3] == gold["active_disclosure"]["licensing"]["decisions"]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_long_form_exports_and_filters(tmp_path, fmt):
    db = tmp_path / "l.duckdb"
    batch.run([YEARS], db)
    out = tmp_path / fmt
    assert export(db, fmt, out, year=2022) == 1
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{t}.{fmt}" for t in
                                                          ("reports", "sections", "cells", "metrics", "checks"))
    if fmt == "csv":
        lines = (out / "reports.csv").read_text(encoding="utf-8").splitlines()
        assert len(lines) == 2 and "2022" in lines[1]


def test_three_years_of_one_agency_give_exactly_one_failed_cross_year_check(tmp_path):
    db = tmp_path / "y.duckdb"
    batch.run([YEARS], db)
    (agency,) = compare(db)
    assert agency["agency_key"] == "洪泽区示范局" and agency["years"] == [2021, 2022, 2023]
    failed = [c for c in agency["checks"] if c["ok"] is False]
    assert len(failed) == 1
    ids = {year: i for year, i in agency["reports"].items()}
    assert failed[0]["rule"] == "cross_year.carried" and failed[0]["reports"] == [ids["2022"], ids["2023"]]
    assert (failed[0]["expected"], failed[0]["found"]) == (2, 4)
    in_force = [c for c in agency["checks"] if c["rule"] == "cross_year.in_force"]
    assert len(in_force) == 4 and all(c["ok"] for c in in_force)
    assert agency["cells"]["applications.carried_forward.total"]["change"] == {"2021→2022": -1.0,
                                                                               "2022→2023": -1.0}


def test_a_missing_year_is_a_failed_check(tmp_path):
    db = tmp_path / "m.duckdb"
    batch.run([YEARS / "hongze_2021.txt", YEARS / "hongze_2023.txt"], db)
    (agency,) = compare(db)
    assert [c["rule"] for c in agency["checks"] if c["ok"] is False] == ["cross_year.missing_year"]


def test_a_database_in_use_or_of_another_schema_version_is_refused(tmp_path):
    db = tmp_path / "v.duckdb"
    batch.run([YEARS / "hongze_2021.txt"], db)
    con = archive.connect(db)  # a batch holding the database
    second = subprocess.run([sys.executable, "-m", "service.cli", "batch", str(YEARS), "--db", str(db)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert second.returncode == 2
    assert second.stderr.strip().endswith("is in use by another process (a batch is running on it); "
                                          "wait for it to finish")
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(archive.ArchiveError, match="schema version 99"):
        compare(db)
    run = subprocess.run([sys.executable, "-m", "service.cli", "export", "--db", str(db), "--out",
                          str(tmp_path / "o.xlsx")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "schema version 99" in run.stderr and "Traceback" not in run.stderr
    with pytest.raises(archive.ArchiveError, match="no such database"):
        compare(tmp_path / "none.duckdb")


def test_dask_engine_stores_the_same_rows_as_the_local_engine(tmp_path):
    pytest.importorskip("dask.distributed")
    local, dask_db = tmp_path / "local.duckdb", tmp_path / "dask.duckdb"
    files = [*sorted(CORPUS.glob("0*.txt")), YEARS]
    batch.run(files, local, jobs=1)
    batch.run(files, dask_db, jobs=2, engine="dask")
    query = ("SELECT r.sha256, c.table_key, c.row_key, c.col_key, c.value, c.raw, c.flag, c.\"start\", c.\"end\" "
             "FROM cells c JOIN reports r ON r.id = c.report_id ORDER BY ALL")
    assert _rows(local, query) == _rows(dask_db, query)
    metrics = "SELECT r.sha256, m.type, m.channel, m.value, m.\"start\" FROM metrics m JOIN reports r ON r.id = m.report_id ORDER BY ALL"
    assert _rows(local, metrics) == _rows(dask_db, metrics)


def test_the_service_serves_the_archive(tmp_path):
    from fastapi.testclient import TestClient

    from service.api import Settings, create_app

    db = tmp_path / "s.duckdb"
    batch.run([YEARS], db)
    with TestClient(create_app(Settings(db=str(db)))) as client:
        listed = client.get("/v1/reports", params={"agency": "洪泽", "year": 2022}).json()
        assert [(r["agency_key"], r["year"]) for r in listed] == [("洪泽区示范局", 2022)]
        one = client.get(f"/v1/reports/{listed[0]['id']}").json()
        assert one["tables"]["applications"]["carried_forward"]["total"] == 2
        assert client.get("/v1/reports/999").status_code == 404
        (agency,) = client.get("/v1/compare", params={"agency": "洪泽区示范局"}).json()
        assert agency["audit"]["failed"] == 1
    with TestClient(create_app(Settings())) as client:  # without --db the routes are not there
        assert client.get("/v1/reports").status_code == 404


def test_reprocess_older_reads_again_what_another_models_version_read(tmp_path):
    db = tmp_path / "r.duckdb"
    batch.run([YEARS], db)
    con = archive.connect(db)
    con.execute("UPDATE reports SET models_version = 'older' WHERE source LIKE '%2022%'")
    con.close()
    assert batch.run([YEARS], db).stored == 0
    again = batch.run([YEARS], db, reprocess_older=True)
    assert (again.stored, again.skipped) == (1, 2)
    assert _rows(db, "SELECT count(*), count(DISTINCT models_version) FROM reports")[0] == (3, 1)


def test_results_are_stored_one_at_a_time_while_the_writer_keeps_up():
    """A result that arrives to an idle writer is a group (a transaction) of its own;
    the results that arrived while the writer was busy make the next group, up to the
    limit; an error fetching them is raised after the results before it."""
    import threading

    def slow():  # a worker slower than the writer
        for i in range(4):
            time.sleep(0.05)
            yield i
    assert list(batch.arrival_groups(slow(), 32)) == [[0], [1], [2], [3]]

    busy = threading.Event()
    def waiting():  # everything is ready while the writer stores the first
        yield 0
        busy.wait(5)
        yield from range(1, 40)
    groups = []
    for group in batch.arrival_groups(waiting(), 32):
        groups.append(group)
        if group == [0]:
            busy.set()
            time.sleep(0.2)  # storing: the rest arrives meanwhile
    assert groups[0] == [0] and groups[1] == list(range(1, 33)) and sum(groups, []) == list(range(40))

    def failing():
        yield 1
        raise OSError("worker died")
    got = []
    with pytest.raises(OSError, match="worker died"):
        for group in batch.arrival_groups(failing(), 32):
            got += group
    assert got == [1]
