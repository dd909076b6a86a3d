"""Retraining: deterministic model files, and a new annotated wording that the
shipped models miss is learned by retraining, not by code."""

from __future__ import annotations

import json

import pytest

from service.pipeline import Models
from service.segment import SectionModel, segment
from service.types import Document
from training.augment import apply_edits
from training.scoring import Counts, score_sections

from .conftest import ROOT

# Headings worded as no template entry and no shipped training report words them.
NEW_WORDINGS = {"problems": "五、工作中的不足与下一步打算",
                "other_matters": "六、需要说明的其他情况"}


def _reworded(report, tag):
    edits, updates = [], {}
    for s in report.gold["sections"]:
        if s["key"] in NEW_WORDINGS:
            edits.append((s["start"], s["start"] + len(s["heading"]), NEW_WORDINGS[s["key"]]))
            updates[s["key"]] = NEW_WORDINGS[s["key"]]
    return apply_edits(report, edits, suffix=tag, origin="test", heading_updates=updates)


def _section_counts(model: SectionModel, reports) -> Counts:
    total = Counts()
    for r in reports:
        pred = {"sections": [s.model_dump() for s in segment(Document(text=r.text), model)]}
        total += score_sections(r.gold, pred, r.text).counts
    return total


def test_annotating_a_new_wording_and_retraining_fixes_it(corpus_reports, seed_reports):
    from training import train_sections

    held_out = [_reworded(r, "new") for r in seed_reports[3:]]
    shipped = SectionModel.load(ROOT / "models")
    before = _section_counts(shipped, held_out)
    assert before.fn > 0, "the shipped model already knows the wording: pick another"

    # A user annotates one report written that way and retrains.
    added = _reworded(seed_reports[0], "annotated")
    train = [r for r in corpus_reports if r.split != "test"
             and r.id not in {h.id.split("~")[0] for h in held_out}] + [added]
    retrained = train_sections.fit(train)
    after = _section_counts(retrained, held_out)
    assert after.f1 > before.f1
    assert after.fn == 0 and after.fp == 0
    assert "工作中的不足与下一步打算" in retrained.meta["learned_wordings"]["problems"]


def test_same_corpus_gives_byte_identical_models(tmp_path, seed_reports):
    from training import train_metrics, train_sections, train_tables

    small = seed_reports[:2]
    for trainer in (train_sections, train_tables, train_metrics):
        trainer.fit(small, seed=0).save(tmp_path / "a")
        trainer.fit(small, seed=0).save(tmp_path / "b")
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == ["metrics.json.gz", "sections.json.gz", "table_rows.json.gz"]
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_shipped_models_load_with_their_manifest():
    models = Models.load(ROOT / "models")
    manifest = json.loads((ROOT / "models" / "manifest.json").read_text(encoding="utf-8"))
    assert models.version == manifest["version"]
    assert {"sections", "table_rows", "metrics"} <= {f.split(".")[0] for f in manifest["files"]}
    assert (ROOT / "models" / "MODEL_CARD.md").read_text(encoding="utf-8").startswith(
        "# govreport models")


def test_a_missing_model_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="run `govreport train`"):
        Models.load(tmp_path)


def test_annotate_writes_a_gold_file_that_passes_the_check(tmp_path):
    import shutil
    import subprocess
    import sys

    src = tmp_path / "r.txt"
    shutil.copy(ROOT / "corpus" / "004_7f0b1ba19ca81226.txt", src)
    run = subprocess.run([sys.executable, "-m", "service.cli", "annotate", str(src)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    gold = json.loads((tmp_path / "r.gold.json").read_text(encoding="utf-8"))
    assert [s["key"] for s in gold["sections"]][1] == "overview"
    again = subprocess.run([sys.executable, "-m", "service.cli", "annotate", str(src)],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode != 0 and "--force" in again.stderr
    check = subprocess.run([sys.executable, "-m", "service.cli", "corpus", "check", str(tmp_path)],
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stdout
