"""``python -m training.snapshot``: a saved set of outputs, and what a change altered."""

from __future__ import annotations

import json

from training import snapshot

from .conftest import CORPUS


def test_check_names_the_outputs_that_differ_from_the_saved_ones(tmp_path, monkeypatch, capsys):
    seed = sorted(CORPUS.glob("0*.txt"))[0].read_text(encoding="utf-8")
    monkeypatch.setattr(snapshot, "inputs", lambda: {"seed": (seed, None), "poem": ("床前明月光", None)})
    saved = tmp_path / "before.json"
    assert snapshot.main(["save", str(saved)]) == 0
    outputs = json.loads(saved.read_text(encoding="utf-8"))
    assert outputs["poem"] == "error: not_a_report"
    assert json.loads(outputs["seed"])["tables"]["applications"]

    assert snapshot.main(["check", str(saved)]) == 0
    assert "0 differ" in capsys.readouterr().out

    outputs["seed"] = outputs["seed"].replace('"layout": "2021"', '"layout": "2019"')
    saved.write_text(json.dumps(outputs), encoding="utf-8")
    assert snapshot.main(["check", str(saved)]) == 1
    assert "1 differ: seed" in capsys.readouterr().out


def test_usage_and_a_missing_snapshot_are_clear_errors(tmp_path, capsys):
    assert snapshot.main(["compare"]) == 2
    assert snapshot.main(["check", str(tmp_path / "none.json")]) == 2
    assert "run `save` first" in capsys.readouterr().err
