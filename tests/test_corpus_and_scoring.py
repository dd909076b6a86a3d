"""The annotation validator's rejections and the scoring arithmetic."""

from __future__ import annotations

import copy
import json
import shutil

import pytest

from training.corpus import check_corpus, validate
from training.scoring import Counts, score_cells, score_metrics, score_report, score_sections

from .conftest import CORPUS

SEED = "000_62418b5d58b13a7d"


@pytest.fixture()
def seed():
    text = (CORPUS / f"{SEED}.txt").read_text(encoding="utf-8")
    gold = json.loads((CORPUS / f"{SEED}.gold.json").read_text(encoding="utf-8"))
    return text, gold


def test_the_shipped_corpus_is_valid():
    assert check_corpus(CORPUS) == []


def test_validator_accepts_a_seed(seed):
    text, gold = seed
    assert validate(gold, text) == []


def test_validator_rejects_an_unknown_top_level_key(seed):
    text, gold = seed
    gold["tabels"] = {}
    problems = validate(gold, text, where="x.gold.json")
    assert problems == ["x.gold.json: tabels: unknown top-level key"]


def test_validator_rejects_offsets_outside_the_text(seed):
    text, gold = seed
    gold["metrics"][0]["end"] = len(text) + 5
    problems = validate(gold, text, where="x.gold.json")
    assert len(problems) == 1
    assert problems[0].startswith("x.gold.json: metrics[0].start/end:")
    assert "outside the text" in problems[0]


def test_validator_rejects_a_heading_not_at_its_offset(seed):
    text, gold = seed
    gold["sections"][2]["start"] += 3
    problems = validate(gold, text, where="x.gold.json")
    assert any(p.startswith("x.gold.json: sections[2].heading:") and "is not at offset" in p
               for p in problems)


def test_validator_rejects_a_metric_span_without_its_value(seed):
    text, gold = seed
    m = gold["metrics"][0]
    m["value"] = m["value"] + 1
    problems = validate(gold, text, where="x.gold.json")
    assert problems == [f"x.gold.json: metrics[0].value: the span {m['text']!r} does not contain "
                        f"the value {m['value']!r}"]


def test_validator_rejects_unknown_rows_columns_and_types(seed):
    text, gold = seed
    gold["tables"]["applications"]["granted"]["robots"] = 1
    gold["tables"]["applications"]["teleported"] = {"total": 1}
    gold["metrics"][1]["type"] = "tweets"
    problems = validate(gold, text, where="g")
    assert "g: tables.applications.granted.robots: unknown column" in problems
    assert "g: tables.applications.teleported: unknown row" in problems
    assert "g: metrics[1].type: 'tweets' is not a metric type" in problems


def test_validator_accepts_chinese_numerals_in_spans():
    text = "一、总体情况\n全年发布政策解读二十三篇。"
    start = text.index("发布")
    gold = {"sections": [{"key": "preamble", "heading": "", "start": 0, "end": 0},
                         {"key": "overview", "heading": "一、总体情况", "start": 0, "end": len(text)}],
            "metrics": [{"type": "policy_interpretations", "value": 23, "unit": "篇",
                         "start": start, "end": len(text) - 1, "text": text[start:-1]}]}
    assert validate(gold, text) == []


def test_check_corpus_names_the_file_of_a_bad_annotation(tmp_path, seed):
    text, gold = seed
    shutil.copy(CORPUS / f"{SEED}.txt", tmp_path / "r1.txt")
    gold["sections"][1]["key"] = "summary"
    (tmp_path / "r1.gold.json").write_text(json.dumps(gold, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "r2.gold.json").write_text("{}", encoding="utf-8")
    problems = check_corpus(tmp_path)
    assert any("r1.gold.json: sections[1].key: 'summary' is not a section key" in p for p in problems)
    assert any("r2.gold.json: no source file beside it" in p for p in problems)


# --- scoring arithmetic ---------------------------------------------------------

def test_counts_arithmetic():
    c = Counts(tp=3, fp=1, fn=2)
    assert c.precision == pytest.approx(0.75)
    assert c.recall == pytest.approx(0.6)
    assert c.f1 == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    assert Counts().f1 == 1.0  # nothing to find, nothing found


def test_section_scoring_forgives_leading_space_and_hashes():
    text = "x\n## 一、总体情况\n  二、主动公开政府信息情况\n"
    gold = {"sections": [{"key": "preamble", "start": 0}, {"key": "overview", "start": 5},
                         {"key": "active_disclosure", "start": 14}]}
    pred = {"sections": [{"key": "preamble", "start": 0}, {"key": "overview", "start": 2},
                         {"key": "active_disclosure", "start": 12}]}
    s = score_sections(gold, pred, text)
    assert (s.counts.tp, s.counts.fp, s.counts.fn) == (2, 0, 0)


def test_section_scoring_counts_a_wrong_start_as_miss_and_spurious():
    gold = {"sections": [{"key": "overview", "start": 10}, {"key": "problems", "start": 50}]}
    pred = {"sections": [{"key": "overview", "start": 10}, {"key": "problems", "start": 60}]}
    s = score_sections(gold, pred)
    assert (s.counts.tp, s.counts.fp, s.counts.fn) == (1, 1, 1)


def test_cell_scoring_null_equals_only_null():
    gold = {"tables": {"applications": {"granted": {"total": None, "natural_person": 0}}}}
    pred = {"tables": {"applications": {"granted": {"total": 0, "natural_person": 0},
                                        "denied_query": {"total": 1}}}}
    s = score_cells(gold, pred)
    # total: wrong (fn+fp); natural_person right; denied_query.total spurious.
    assert (s.counts.tp, s.counts.fp, s.counts.fn) == (1, 2, 1)
    assert "applications.granted.total: gold None, predicted 0" in s.errors


def test_cell_scoring_missing_cell_is_a_miss():
    gold = {"tables": {"review_litigation": {"review": {"total": 3, "pending": 1}}}}
    pred = {"tables": {"review_litigation": {"review": {"total": 3.0}}}}
    s = score_cells(gold, pred)
    assert (s.counts.tp, s.counts.fp, s.counts.fn) == (1, 0, 1)


def test_metric_scoring_is_a_multiset_match_with_span_overlap_apart():
    g = [{"type": "published_items", "channel": "wechat", "value": 10, "start": 0, "end": 5},
         {"type": "published_items", "channel": "wechat", "value": 10, "start": 20, "end": 25},
         {"type": "applications_received", "value": 2, "start": 40, "end": 45}]
    p = [{"type": "published_items", "channel": "wechat", "value": 10, "start": 21, "end": 24},
         {"type": "applications_received", "value": 2.0, "start": 80, "end": 85},
         {"type": "published_items", "channel": "weibo", "value": 10, "start": 0, "end": 5}]
    s = score_metrics({"metrics": g}, {"metrics": p})
    assert (s.counts.tp, s.counts.fp, s.counts.fn) == (2, 1, 1)
    assert (s.span_overlap.tp, s.span_overlap.fn) == (1, 1)


def test_report_scoring_skips_tasks_the_gold_does_not_annotate(seed):
    text, gold = seed
    prose_only = {"sections": gold["sections"], "metrics": gold["metrics"]}
    scores = score_report(prose_only, copy.deepcopy(gold), text)
    assert set(scores) == {"sections", "metrics"}
    assert all(s.counts.f1 == 1.0 for s in scores.values())
