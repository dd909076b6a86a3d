"""How sure must a prose figure be before the audit holds it against a table?

The narrative checks compare a figure stated in prose with the tables (or with other
prose figures) only when the metric model's confidence in what the figure counts is
at least ``service.checks.NARRATIVE_MIN_CONFIDENCE``.  This measures that threshold
on held-out predictions: every report of the given corpora (and its shapes without
line breaks or whitespace) is read by models that never saw it (the folds of
``training.cv``), and each failed narrative check is a *false alarm* when the same
rule does not fail on the report's own gold.  The threshold that leaves no false
alarm is the lowest confidence above every false alarm's; the report also says how
many checks that threshold still compares.

    python -m training.tune_audit --corpus corpus --corpus ../shared/real
"""

from __future__ import annotations

import argparse
import sys

from service import checks
from service.pipeline import extract_document
from service.types import Extraction, ExtractionError, Metric
from training.augment import lost_layouts
from training.corpus import AnnotatedReport, AnnotationError, load_corpus
from training.cv import held_out_models
from training.evaluate import document_for, fit_models

#: Rules that hold a prose figure against something (those the threshold governs).
GOVERNED = ("narrative.",)
UNGOVERNED = ("narrative.no_review_litigation",)


def _governed(rule: str) -> bool:
    return rule.startswith(GOVERNED) and rule not in UNGOVERNED


def gold_failures(report: AnnotatedReport) -> set[str]:
    """The governed rules the report's own gold fails (a real inconsistency)."""
    gold = report.gold
    extraction = Extraction.model_construct(
        layout=gold.get("layout", "2021"), tables=gold.get("tables", {}), provenance={}, cell_flags=[],
        table_confidence={}, unrecognised_rows=[], sections=[],
        metrics=[Metric(**{k: v for k, v in m.items() if k in Metric.model_fields}) for m in gold.get("metrics", [])],
        checks=[], format="txt", warnings=[])
    return {c.rule for c in checks.run_checks(extraction, report.text) if c.ok is False and _governed(c.rule)}


def measure(reports: list[AnnotatedReport], folds: int = 5, seed: int = 0) -> dict:
    """Confidences of the figures in every governed check on held-out reports: the
    train split by folds, the test split by models fitted on the whole train split."""
    false_alarms: list[tuple[float, str]] = []
    compared: list[float] = []
    train = [r for r in reports if r.split != "test"]
    test = [r for r in reports if r.split == "test"]
    for fold in held_out_models(train, lambda rest: fit_models(rest, seed=seed), folds=folds, seed=seed,
                                test=test, progress=lambda m: print(m, file=sys.stderr)):
        for report in fold.held:
            inconsistent = gold_failures(report)
            for item in [report, *lost_layouts(report)]:
                try:
                    extraction = extract_document(document_for(item), fold.model)
                except ExtractionError:
                    continue  # a refused text has no audit (the evaluation counts refusals)
                confidence = {(m.start, m.end): m.confidence for m in extraction.metrics}
                # every check, whatever its figures' confidence
                for check in checks.run_checks(extraction, item.text, min_confidence=0.0):
                    if not _governed(check.rule) or check.ok is None:
                        continue
                    low = min((confidence[s] for s in map(tuple, check.spans)
                               if s in confidence and confidence[s] is not None), default=1.0)
                    compared.append(low)
                    if check.ok is False and check.rule not in inconsistent:
                        false_alarms.append((low, f"{item.id}: {check.rule} {check.detail[:90]}"))
    threshold = round(max((c for c, _ in false_alarms), default=0.0) + 0.005, 3)
    return {"threshold": threshold, "false_alarms": sorted(false_alarms, reverse=True),
            "compared": len(compared), "still_compared": sum(c >= threshold for c in compared)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", action="append", default=None)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args(argv)
    try:
        reports = load_corpus(*(args.corpus or ["corpus"]))
    except AnnotationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = measure(reports, folds=args.folds)
    for confidence, what in result["false_alarms"]:
        print(f"false alarm at confidence {confidence:.3f}: {what}")
    print(f"threshold for no false alarm: {result['threshold']} "
          f"(in force: {checks.NARRATIVE_MIN_CONFIDENCE}); it still compares "
          f"{result['still_compared']} of {result['compared']} checks")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
