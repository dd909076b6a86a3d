"""Scoring an extraction against gold: one implementation for the evaluate
command, the tests and the training reports.

- sections: a gold section (preamble excluded) is found when a predicted section
  has the same key and the same start (leading whitespace and markdown ``#``
  marks forgiven);
- table cells: every (table, row, column) of the gold; a prediction counts when
  equal to gold (``null`` equals only ``null``); predicted cells absent from gold
  are false positives;
- prose metrics: multiset match on (type, channel, value); span overlap of the
  matched pairs is reported separately.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __iadd__(self, other: Counts) -> Counts:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        return self

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "precision": round(self.precision, 4),
                "recall": round(self.recall, 4), "f1": round(self.f1, 4)}


@dataclass
class TaskScore:
    counts: Counts = field(default_factory=Counts)
    errors: list[str] = field(default_factory=list)
    #: For metrics: matched pairs whose spans overlap / matched pairs.
    span_overlap: Counts | None = None


def _heading_start(text: str, start: int) -> int:
    """Skip leading whitespace and markdown '#' marks from ``start``."""
    while start < len(text) and (text[start].isspace() or text[start] == "#"):
        start += 1
    return start


def score_sections(gold: dict, pred: dict, text: str = "") -> TaskScore:
    def norm(s: dict) -> tuple[str, int]:
        return s["key"], _heading_start(text, s["start"]) if text else s["start"]

    gold_set = Counter(norm(s) for s in gold.get("sections", []) if s["key"] != "preamble")
    pred_set = Counter(norm(s) for s in pred.get("sections", []) if s["key"] != "preamble")
    score = TaskScore()
    score.counts.tp = sum((gold_set & pred_set).values())
    score.counts.fn = sum((gold_set - pred_set).values())
    score.counts.fp = sum((pred_set - gold_set).values())
    for key, start in sorted((gold_set - pred_set).elements(), key=lambda x: x[1]):
        got = [s["start"] for s in pred.get("sections", []) if s["key"] == key]
        score.errors.append(f"section {key} at {start} missed (predicted at {got or 'nowhere'})")
    for key, start in sorted((pred_set - gold_set).elements(), key=lambda x: x[1]):
        if not any(s["key"] == key for s in gold.get("sections", [])):
            score.errors.append(f"section {key} predicted at {start} but absent from gold")
    return score


def _same_value(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) < 1e-9
    return a == b


def score_cells(gold: dict, pred: dict) -> TaskScore:
    score = TaskScore()
    gold_tables = gold.get("tables", {}) or {}
    pred_tables = pred.get("tables", {}) or {}
    # cells left unknown on purpose (glued digits the identities do not settle): a miss,
    # not a wrong value
    abstained = {f.get("cell") for f in pred.get("cell_flags") or [] if f.get("reason") == "ambiguous_split"}
    for table, rows in gold_tables.items():
        for row, cols in rows.items():
            for col, gval in cols.items():
                prow = pred_tables.get(table, {}).get(row, {})
                if col not in prow:
                    score.counts.fn += 1
                    score.errors.append(f"{table}.{row}.{col}: gold {gval!r}, missing")
                elif _same_value(prow[col], gval):
                    score.counts.tp += 1
                elif prow[col] is None and f"{table}.{row}.{col}" in abstained:
                    score.counts.fn += 1
                    score.errors.append(f"{table}.{row}.{col}: gold {gval!r}, left unknown (ambiguous split)")
                else:
                    # A wrong value is both a miss and a spurious value.
                    score.counts.fn += 1
                    score.counts.fp += 1
                    score.errors.append(f"{table}.{row}.{col}: gold {gval!r}, predicted {prow[col]!r}")
    for table, rows in pred_tables.items():
        for row, cols in rows.items():
            for col, pval in cols.items():
                if col not in gold_tables.get(table, {}).get(row, {}):
                    score.counts.fp += 1
                    score.errors.append(f"{table}.{row}.{col}: predicted {pval!r}, absent from gold")
    return score


def _metric_key(m: dict) -> tuple:
    value = m.get("value")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return m.get("type"), m.get("channel") if m.get("type") == "published_items" else None, value


def score_metrics(gold: dict, pred: dict) -> TaskScore:
    gold_m = list(gold.get("metrics", []) or [])
    pred_m = list(pred.get("metrics", []) or [])
    score = TaskScore(span_overlap=Counts())
    # Pair gold and predicted mentions of the same (type, channel, value),
    # most-overlapping spans first, so a figure stated twice pairs each mention
    # with the prediction at its own place.
    pairs = sorted(((min(g["end"], p["end"]) - max(g["start"], p["start"]), gi, pi)
                    for gi, g in enumerate(gold_m) for pi, p in enumerate(pred_m)
                    if _metric_key(g) == _metric_key(p)), key=lambda t: (-t[0], t[1], t[2]))
    used_g: dict[int, int] = {}
    used_p: set[int] = set()
    for _overlap, gi, pi in pairs:
        if gi in used_g or pi in used_p:
            continue
        used_g[gi] = pi
        used_p.add(pi)
    for gi, g in enumerate(gold_m):
        if gi not in used_g:
            score.counts.fn += 1
            score.errors.append(f"missed {_describe(g)}")
            continue
        best = pred_m[used_g[gi]]
        score.counts.tp += 1
        if min(g["end"], best["end"]) > max(g["start"], best["start"]):
            score.span_overlap.tp += 1
        else:
            score.span_overlap.fn += 1
            score.errors.append(f"span of {_describe(g)} predicted at [{best['start']}, {best['end']}]")
    unmatched_pred = [p for pi, p in enumerate(pred_m) if pi not in used_p]
    for p in unmatched_pred:
        score.counts.fp += 1
        score.errors.append(f"spurious {_describe(p)}")
    return score


def _describe(m: dict) -> str:
    channel = f"/{m.get('channel')}" if m.get("type") == "published_items" else ""
    return (f"{m.get('type')}{channel}={m.get('value')}{m.get('unit', '')} "
            f"at [{m.get('start')}, {m.get('end')}] {m.get('text', '')!r}")


TASKS = ("sections", "cells", "metrics")


def score_report(gold: dict, pred: dict, text: str = "") -> dict[str, TaskScore]:
    """The task scores of one report, for each task its gold annotates.

    A prose-only annotation (no ``tables`` key) is not scored on table cells.
    """
    scores: dict[str, TaskScore] = {}
    if "sections" in gold:
        scores["sections"] = score_sections(gold, pred, text)
    if "tables" in gold:
        scores["cells"] = score_cells(gold, pred)
    if "metrics" in gold:
        scores["metrics"] = score_metrics(gold, pred)
    return scores
