"""The govreport command line, run as a user runs it (a real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import CORPUS, ROOT

SEEDS = sorted(str(p) for p in CORPUS.glob("0*.txt"))


def govreport(*args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "service.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_extract_prints_one_json_line_per_file_with_its_source():
    run = govreport("extract", "--jobs", "1", *SEEDS[:2])
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 2
    for path, line in zip(SEEDS[:2], lines):
        result = json.loads(line)
        assert result["source"] == path
        assert [s["key"] for s in result["sections"]][:2] == ["preamble", "overview"]
        assert set(result["tables"]) == {"active_disclosure", "applications", "review_litigation"}
        assert result["audit"]["failed"] == 0


def test_extract_with_several_jobs_keeps_input_order():
    run = govreport("extract", "--jobs", "2", *SEEDS)
    assert run.returncode == 0, run.stderr
    assert [json.loads(line)["source"] for line in run.stdout.splitlines()] == SEEDS


def test_worker_processes_give_the_same_lines_as_one_process(tmp_path):
    missing = str(tmp_path / "missing.txt")
    files = [*SEEDS, missing, *SEEDS]
    one = govreport("extract", "--jobs", "1", *files)
    two = govreport("extract", "--jobs", "2", *files)
    assert one.returncode == two.returncode == 1
    assert two.stdout == one.stdout
    assert two.stderr.strip() == f"govreport: {missing}: no such file"


def test_bad_files_get_an_error_line_a_one_line_reason_and_exit_1(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    binary = tmp_path / "blob.bin"
    binary.write_bytes(bytes(range(256)) * 40)
    prose = tmp_path / "poem.txt"
    prose.write_text("床前明月光，疑是地上霜。举头望明月，低头思故乡。\n" * 20, encoding="utf-8")
    missing = tmp_path / "missing.txt"
    run = govreport("extract", "--jobs", "1", str(empty), SEEDS[0], str(binary), str(prose),
                    str(missing))
    assert run.returncode == 1
    results = [json.loads(line) for line in run.stdout.splitlines()]
    assert [r["source"] for r in results] == [str(empty), SEEDS[0], str(binary), str(prose),
                                              str(missing)]
    codes = [r.get("error", {}).get("code") for r in results]
    assert codes == ["empty", None, "binary", "not_a_report", "not_found"]
    assert "Traceback" not in run.stderr
    # One line on stderr per failed file, naming it.
    err_lines = run.stderr.strip().splitlines()
    assert len(err_lines) == 4
    assert all(line.startswith("govreport: ") for line in err_lines)


def test_corpus_check_reports_a_bad_annotation_and_exits_1(tmp_path):
    (tmp_path / "r.txt").write_text("一、总体情况\n正文", encoding="utf-8")
    (tmp_path / "r.gold.json").write_text(json.dumps({"sections": [
        {"key": "overview", "heading": "一、总体情况", "start": 3, "end": 9}]}), encoding="utf-8")
    run = govreport("corpus", "check", str(tmp_path))
    assert run.returncode == 1
    assert "r.gold.json: sections[0].heading" in run.stdout


def test_corpus_check_accepts_the_shipped_corpus():
    run = govreport("corpus", "check", str(CORPUS))
    assert run.returncode == 0, run.stdout
    assert run.stdout.startswith("ok: ")


def test_evaluate_prints_scores_per_task():
    run = govreport("evaluate", "--corpus", str(CORPUS), "--json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    (scores,) = result.values()
    assert {"sections", "cells", "metrics"} <= set(scores["totals"])
    for task in scores["totals"].values():
        assert 0.0 <= task["f1"] <= 1.0


def test_unknown_corpus_dir_is_a_one_line_error(tmp_path):
    run = govreport("evaluate", "--corpus", str(tmp_path / "nope"))
    assert run.returncode != 0
    assert run.stderr.strip().count("\n") == 0
    assert "corpus directory not found" in run.stderr


def test_special_files_oversize_files_and_stdin(tmp_path):
    """/dev/zero and a pipe given as a path are refused in one line (no MemoryError
    after seconds), a file over --max-mb too; a report piped in with --stdin is read."""
    big = tmp_path / "big.txt"
    big.write_bytes(b"0" * (2 * 1024 * 1024))
    run = govreport("extract", "/dev/zero", str(big), "--max-mb", "1")
    assert run.returncode == 1
    codes = [json.loads(line)["error"]["code"] for line in run.stdout.splitlines()]
    assert codes == ["not_a_file", "too_large"]
    assert run.stderr.splitlines() == [
        "govreport: /dev/zero: is not a regular file (a device or a pipe); pipe a report into "
        "`govreport extract --stdin` instead",
        f"govreport: {big}: the input is larger than 1 MB (--max-mb)"]
    piped = subprocess.run([sys.executable, "-m", "service.cli", "extract", "--stdin"], cwd=ROOT,
                           input=open(SEEDS[0], "rb").read(), capture_output=True, timeout=300)
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)["source"] == "-"


def test_a_budget_in_the_environment_applies_to_the_cli(tmp_path):
    import os

    run = subprocess.run([sys.executable, "-m", "service.cli", "extract", SEEDS[0]], cwd=ROOT,
                         env={**os.environ, "GOVREPORT_MAX_CHARS": "1000"}, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 1 and json.loads(run.stdout)["error"]["code"] == "too_long"
    bad = subprocess.run([sys.executable, "-m", "service.cli", "extract", SEEDS[0]], cwd=ROOT,
                         env={**os.environ, "GOVREPORT_MAX_CELLS": "lots"}, capture_output=True, text=True,
                         timeout=300)
    assert bad.returncode == 2 and bad.stderr.strip() == "govreport: GOVREPORT_MAX_CELLS='lots' is not a number"
