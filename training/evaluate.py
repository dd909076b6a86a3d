"""Evaluation: run extraction over annotated reports and score it against gold.

``evaluate`` scores one model set; ``cross_validate`` trains on all but a fold
of reports and scores the fold (and augmented variants of it) so that no model
is ever scored on a report it saw; ``render``/``render_comparison`` print the
results for people, ``as_dict`` for machines.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from service import ingest
from service.pipeline import Models, extract_document
from service.types import Document, ExtractionError
from training.corpus import AnnotatedReport
from training.cv import TEST, held_out_models
from training.scoring import TASKS, Counts, TaskScore, score_report


@dataclass
class ReportResult:
    id: str
    origin: str
    scores: dict[str, TaskScore] = field(default_factory=dict)
    error: str | None = None


@dataclass
class EvaluationResult:
    reports: list[ReportResult] = field(default_factory=list)

    def totals(self) -> dict[str, Counts]:
        totals: dict[str, Counts] = {}
        for r in self.reports:
            for task, score in r.scores.items():
                totals.setdefault(task, Counts())
                totals[task] += score.counts
        return {t: totals[t] for t in TASKS if t in totals}

    def span_overlap(self) -> Counts:
        total = Counts()
        for r in self.reports:
            s = r.scores.get("metrics")
            if s is not None and s.span_overlap is not None:
                total += s.span_overlap
        return total

    def extend(self, other: EvaluationResult) -> None:
        self.reports.extend(other.reports)

    def subset(self, keep: Callable[[ReportResult], bool]) -> EvaluationResult:
        return EvaluationResult([r for r in self.reports if keep(r)])


def document_for(report: AnnotatedReport) -> Document:
    """The document the pipeline sees for a report: re-ingested from its source
    file when it has one (so HTML/DOCX/PDF table cells are used), else its text."""
    if report.path is not None:
        return ingest.read(report.path.read_bytes(), filename=report.path.name)
    return Document(text=report.text)


def predict(report: AnnotatedReport, models: Models) -> dict:
    return extract_document(document_for(report), models).model_dump()


def evaluate(reports: list[AnnotatedReport], models: Models,
             progress: Callable[[], None] | None = None) -> EvaluationResult:
    result = EvaluationResult()
    for report in reports:
        rr = ReportResult(id=report.id, origin=report.origin)
        try:
            pred = predict(report, models)
        except ExtractionError as exc:
            rr.error = f"{exc.code}: {exc.detail}"
            pred = {"sections": [], "tables": {}, "metrics": []}
        rr.scores = score_report(report.gold, pred, report.text)
        result.reports.append(rr)
        if progress:
            progress()
    return result


# --- cross-validation ---------------------------------------------------------

def fit_models(reports: list[AnnotatedReport], seed: int = 0) -> Models:
    """Fit every component on ``reports`` (each trainer adds its own augmentation)."""
    from training import train_metrics, train_sections, train_tables

    return Models(directory=Path("."), sections=train_sections.fit(reports, seed=seed),
                  table_rows=train_tables.fit(reports, seed=seed),
                  metrics=train_metrics.fit(reports, seed=seed), manifest={"version": "cv"})


def augmented_variants(report: AnnotatedReport, seed: int = 0) -> list[AnnotatedReport]:
    """Held-out robustness variants of one report: heading styles, table layouts, the
    report with its line breaks or all its whitespace lost, and its file (where the
    corpus has one) through the tools users pass it through."""
    from training.augment import headings, lost_layouts, tables

    rng = random.Random(f"{seed}:{report.id}")
    variants: list[AnnotatedReport] = []
    if report.gold.get("sections"):
        variants += headings.variants(report, rng)
    if report.gold.get("tables"):
        variants += tables.variants(report, rng)
    return variants + lost_layouts(report)


def cross_validate(reports: list[AnnotatedReport], folds: int = 5, seed: int = 0,
                   with_variants: bool = True,
                   progress: Callable[[str], None] | None = None) -> dict[str, EvaluationResult]:
    """K-fold cross-validation by report over the train split, plus the test split.

    Returns ``{"cv": held-out originals, "cv_augmented": variants of held-out
    reports, "test": the test split scored by models fitted on the whole train split}``.
    """
    train = [r for r in reports if r.split != "test"]
    test = [r for r in reports if r.split == "test"]
    out = {"cv": EvaluationResult(), "cv_augmented": EvaluationResult(), "test": EvaluationResult()}
    for fold in held_out_models(train, lambda rest: fit_models(rest, seed=seed), folds=folds, seed=seed,
                                test=test, progress=progress):
        if fold.split == TEST:
            out["test"] = evaluate(fold.held, fold.model)
            continue
        out["cv"].extend(evaluate(fold.held, fold.model))
        if with_variants:
            for r in fold.held:
                out["cv_augmented"].extend(evaluate(augmented_variants(r, seed), fold.model))
    return out


# --- output -----------------------------------------------------------------

def as_dict(result: EvaluationResult) -> dict:
    return {
        "totals": {t: c.as_dict() for t, c in result.totals().items()},
        "metric_span_overlap": result.span_overlap().as_dict(),
        "reports": [
            {"id": r.id, "origin": r.origin, "error": r.error,
             "scores": {t: s.counts.as_dict() for t, s in r.scores.items()},
             "errors": {t: s.errors for t, s in r.scores.items() if s.errors}}
            for r in result.reports
        ],
    }


def render(result: EvaluationResult, console, title: str = "evaluation",
           max_errors: int = 20) -> None:
    from rich.table import Table

    table = Table(title=f"{title}: {len(result.reports)} reports")
    for col in ("task", "precision", "recall", "F1", "tp", "fp", "fn"):
        table.add_column(col, justify="left" if col == "task" else "right")
    for task, c in result.totals().items():
        table.add_row(task, f"{c.precision:.4f}", f"{c.recall:.4f}", f"{c.f1:.4f}",
                      str(c.tp), str(c.fp), str(c.fn))
    span = result.span_overlap()
    if span.tp + span.fn:
        table.add_row("metric spans overlap", "", f"{span.recall:.4f}", "", str(span.tp), "",
                      str(span.fn))
    console.print(table)
    for r in result.reports:
        errors = [f"{t}: {e}" for t, s in r.scores.items() for e in s.errors]
        if r.error:
            errors.insert(0, f"extraction failed: {r.error}")
        if not errors:
            continue
        console.print(f"[bold]{r.id}[/bold] ({r.origin}): {len(errors)} error(s)")
        for e in errors[:max_errors]:
            console.print(f"  - {e}", markup=False)
        if len(errors) > max_errors:
            console.print(f"  … {len(errors) - max_errors} more")


def render_comparison(results: dict[str, EvaluationResult], console) -> None:
    """Side by side: per task, then per report (F1 of each model set)."""
    from rich.table import Table

    names = list(results)
    table = Table(title="model sets compared")
    table.add_column("task")
    for n in names:
        table.add_column(f"F1 {n}", justify="right")
    tasks = [t for t in TASKS if any(t in r.totals() for r in results.values())]
    for task in tasks:
        table.add_row(task, *[f"{results[n].totals().get(task, Counts()).f1:.4f}" for n in names])
    console.print(table)
    per = Table(title="per report (F1 sections / cells / metrics)")
    per.add_column("report")
    for n in names:
        per.add_column(n, justify="right")
    ids = [r.id for r in results[names[0]].reports]
    for i, rid in enumerate(ids):
        cells = []
        for n in names:
            rr = results[n].reports[i]
            cells.append(" / ".join(f"{rr.scores[t].counts.f1:.3f}" if t in rr.scores else "-"
                                    for t in TASKS))
        per.add_row(rid, *cells)
    console.print(per)
