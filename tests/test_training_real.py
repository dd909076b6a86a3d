"""Training on more than the shipped corpus: bad annotations are refused with a
one-line message naming the file and the field, and the real reports of
``../shared/real`` (both layouts) go through the corpus loader and the table
augmenter.  The tests that read the real reports skip when that folder is absent.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys

import pytest

from service.tables.grid import GridCell, read_value
from training.augment import tables as table_augmenter
from training.corpus import AnnotationError, load_corpus

from .conftest import CORPUS, ROOT

REAL = ROOT.parent / "shared" / "real"
SEED = "000_62418b5d58b13a7d"


def _seed_gold() -> dict:
    return json.loads((CORPUS / f"{SEED}.gold.json").read_text(encoding="utf-8"))


def _corpus_with(tmp_path, gold: dict):
    """A one-report corpus in ``tmp_path``: the seed's text with ``gold`` beside it."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / f"{SEED}.txt", corpus / "r1.txt")
    gold_path = corpus / "r1.gold.json"
    gold_path.write_text(json.dumps(gold, ensure_ascii=False), encoding="utf-8")
    return corpus, gold_path


def _set(path: tuple, value):
    def edit(gold):
        target = gold
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return edit


def _drop(path: tuple):
    def edit(gold):
        target = gold
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return edit


# (how the annotation is broken, the field the message must name)
BAD_ANNOTATIONS = {
    "unknown table": (_set(("tables", "table_5"), {}), "tables.table_5"),
    "tables not an object": (_set(("tables",), []), "tables"),
    "unknown row": (_set(("tables", "applications", "new_recieved"), {"total": 1}),
                    "tables.applications.new_recieved"),
    "unknown column": (_set(("tables", "active_disclosure", "regulations", "made_up"), 1),
                       "tables.active_disclosure.regulations.made_up"),
    "2019 column on a 2021-only row": (_set(("tables", "active_disclosure", "penalty", "issued"), 1),
                                       "tables.active_disclosure.penalty.issued"),
    "cell value a word": (_set(("tables", "applications", "new_received", "total"), "many"),
                          "tables.applications.new_received.total"),
    "cell value a list": (_set(("tables", "applications", "granted", "natural_person"), [3]),
                          "tables.applications.granted.natural_person"),
    "cell value a boolean": (_set(("tables", "review_litigation", "review", "total"), True),
                             "tables.review_litigation.review.total"),
    "metric without a type": (_drop(("metrics", 0, "type")), "metrics[0].type"),
    "metric of an unknown type": (_set(("metrics", 1, "type"), "tweets"), "metrics[1].type"),
    "metric value not a number": (_set(("metrics", 0, "value"), "ten"), "metrics[0].value"),
    "section heading not a string": (_set(("sections", 1, "heading"), 5), "sections[1].heading"),
    "unknown split": (_set(("split",), "tset"), "split"),
    "unknown top-level key": (_set(("comments",), "x"), "comments"),
}


@pytest.mark.parametrize("case", sorted(BAD_ANNOTATIONS))
def test_a_bad_annotation_is_refused_naming_the_file_and_the_field(case, tmp_path):
    edit, field = BAD_ANNOTATIONS[case]
    gold = _seed_gold()
    edit(gold)
    corpus, gold_path = _corpus_with(tmp_path, gold)
    with pytest.raises(AnnotationError) as caught:
        load_corpus(corpus)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{gold_path}: {field}:"), message


def test_every_problem_is_counted_in_the_one_line(tmp_path):
    gold = _seed_gold()
    gold["tables"]["table_5"] = {}
    del gold["metrics"][0]["type"]
    corpus, gold_path = _corpus_with(tmp_path, gold)
    with pytest.raises(AnnotationError, match=r"\(and 1 more problem: `govreport corpus check`"):
        load_corpus(corpus)


def test_a_good_annotation_still_loads(tmp_path):
    gold = _seed_gold()
    # a dash or 无 cell keeps its printed text, a blank cell is null
    gold["tables"]["applications"]["granted"]["research"] = "—"
    gold["tables"]["applications"]["granted"]["social_welfare"] = "无"
    gold["tables"]["applications"]["granted"]["legal_service"] = None
    corpus, _ = _corpus_with(tmp_path, gold)
    assert [r.id for r in load_corpus(corpus)] == ["r1"]


def _govreport(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "service.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("case", ["cell value a word", "metric without a type", "unknown row"])
def test_train_and_evaluate_answer_a_bad_annotation_with_one_line(case, tmp_path):
    edit, field = BAD_ANNOTATIONS[case]
    gold = _seed_gold()
    edit(gold)
    corpus, gold_path = _corpus_with(tmp_path, gold)
    out = tmp_path / "models"
    for args in (("train", "--corpus", str(corpus), "--out", str(out), "--no-cv"),
                 ("evaluate", "--corpus", str(corpus))):
        run = _govreport(*args)
        assert run.returncode != 0, args
        assert "Traceback" not in run.stderr
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        assert lines == [lines[0]] and lines[0].startswith(f"govreport: {gold_path}: {field}:"), run.stderr
    assert not (out / "table_rows.json.gz").exists()


def test_a_gold_file_that_is_not_json_is_one_line_too(tmp_path):
    corpus, gold_path = _corpus_with(tmp_path, {})
    gold_path.write_text('{"sections": [', encoding="utf-8")
    run = _govreport("train", "--corpus", str(corpus), "--out", str(tmp_path / "m"), "--no-cv")
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    assert [line for line in run.stderr.splitlines() if line.strip()][0].startswith(
        f"govreport: {gold_path}: not valid JSON")


# --- the real reports through the corpus loader and the table augmenter --------------------


@pytest.fixture(scope="module")
def corpus_and_real():
    if not REAL.is_dir():
        pytest.skip(f"{REAL} is absent (the real reports are not part of the repository)")
    return load_corpus(CORPUS, REAL)


def _printed(text: str) -> object:
    """What a table cell printed as ``text`` says (null for a blank one)."""
    return read_value(GridCell(text, 0, len(text), "value")).value


def test_the_table_augmenter_renders_every_report_in_both_layouts(corpus_and_real):
    with_tables = [r for r in corpus_and_real if r.gold.get("tables")]
    assert {r.gold.get("layout", "2021") for r in with_tables} == {"2019", "2021"}
    rendered_2019_reports = 0
    for report in with_tables:
        variants = table_augmenter.variants(report, random.Random(f"test:{report.id}"), n=8)
        for variant in variants:
            tables, provenance = variant.gold["tables"], variant.gold["provenance"]
            # every gold cell is printed where its provenance says, and reads as its value
            cells = {f"{t}.{row}.{col}": value for t, rows in tables.items()
                     for row, cols in rows.items() for col, value in cols.items()}
            assert set(cells) == set(provenance), variant.id
            for name, value in cells.items():
                start, end = provenance[name]
                printed = _printed(variant.text[start:end])
                assert printed == value, (variant.id, name)
            # each layout prints its own table 2 and table 3
            active, applications = tables["active_disclosure"], tables["applications"]
            documents = [set(cols) for row, cols in active.items() if row in ("regulations", "normative_documents")]
            if variant.gold["layout"] == "2019":
                assert documents and all(cols == {"made", "published", "total_public"} for cols in documents)
                assert not any(row.startswith("other_") and row != "other_handling" for row in applications)
            else:
                assert documents and all(cols == {"issued", "repealed", "in_force"} for cols in documents)
                assert "procurement" not in active and "other_services" not in active
        if report.gold.get("layout") == "2019" and variants:
            rendered_2019_reports += 1
            own_layout = [v for v in variants if v.gold["layout"] == "2019"]
            assert own_layout, f"{report.id}: no variant in the report's own 2019 layout"
            # the single （六）其他处理 row (a variant may leave it out, as it may other rows)
            assert any("other_handling" in v.gold["tables"]["applications"] for v in own_layout)
            for variant in own_layout:
                # the 2019 column header (本年新制作数量, or 新制作数量 abbreviated), except
                # where table 2 is printed as one small table per row under generic headers
                if "ad:per_row_tables" not in variant.tags:
                    header_printed = "新制作数量" in variant.text
                    assert header_printed, variant.id
    assert rendered_2019_reports >= 1


# --- the report's own file through real tools --------------------------------------------

def test_a_seed_through_real_tools_keeps_exact_gold_and_is_read():
    """The seed's HTML and PDF fixtures through lxml and pdfplumber: the gold moves onto
    each tool's text (sections at their headings, metrics on their figures), and the
    shipped models read every table cell of it right."""
    from service.pipeline import read_report
    from training.augment import tools
    from training.corpus import validate
    from training.scoring import score_cells

    report = next(r for r in load_corpus(CORPUS) if r.id == SEED)
    made = tools.variants(report)
    expected = [tool for tools_of in tools.TOOLS.values() for tool in tools_of if tools.available(tool)]
    assert {"lxml_text", "element_lines", "pdfplumber", "pdfplumber_layout"} <= set(expected)
    assert sorted(v.id.split("~")[1] for v in made) == sorted(expected)
    for variant in made:
        assert validate(variant.gold, variant.text, where=variant.id) == []
        for m in variant.gold["metrics"]:
            assert str(m["value"]) in variant.text[m["start"]:m["end"]].replace(" ", "")
        score = score_cells(variant.gold, read_report(variant.text).model_dump())
        assert score.counts.fp == 0, variant.id
        if variant.id.endswith("~poppler"):
            # pdftotext's raw text prints a table's labels, then its figures column by
            # column: most cells cannot be placed, and none may be placed wrong
            continue
        assert score.counts.tp >= 0.99 * (score.counts.tp + score.counts.fn), variant.id


def test_a_report_without_its_file_has_no_tool_variants():
    from training.augment import tools

    report = next(r for r in load_corpus(CORPUS) if r.id == "001_422783bed8123fac")
    assert tools.variants(report) == []


@pytest.mark.skipif(not (REAL / "sources").is_dir(), reason="../shared/real is not beside the checkout")
def test_real_web_pages_through_real_tools_are_never_read_wrong():
    from service.pipeline import read_report
    from training.augment import tools
    from training.scoring import score_cells

    for report in load_corpus(REAL):
        for variant in tools.variants(report):
            score = score_cells(variant.gold, read_report(variant.text).model_dump())
            assert score.counts.fp == 0, (variant.id, [e for e in score.errors if "predicted" in e])
