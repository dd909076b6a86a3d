"""Training the table row classifier (``service.tables.RowModel``).

Training rows are produced by the reader itself (``service.tables.assemble.read_rows``)
so that training and inference see identical features:

- the corpus reports' own rows, labelled by walking them in printed order against
  their gold rows and accepting a match only when the row's figures equal the
  gold figures (a row that matches nothing is furniture: ``_none``);
- the layout-augmented variants of those reports (``training.augment.tables``),
  labelled exactly by the gold provenance the augmenter writes: a row is the
  canonical row whose cells it holds, ``_none`` when it holds none.

``cross_validate`` scores leave-one-report-out: the model is fitted on the other
reports and their variants, and scored on the held-out report and its variants.

    python -m training.train_tables            # fit on corpus/, save models/table_rows.json.gz
    python -m training.train_tables --cv       # leave-one-report-out scores
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from service.relayout import relayout
from service.tables import RowModel, read_tables
from service.tables.assemble import TEMPLATE, read_rows
from service.tables.classify import NONE_CLASS, row_features
from service.tables.grid import TableRow, read_value
from service.template import ACTIVE_2019, ACTIVE_2021, APPLICANT_COLUMNS
from service.types import Document, Section
from training.augment import lost_layouts
from training.augment.tables import variants
from training.corpus import AnnotatedReport, load_corpus
from training.cv import held_out_models
from training.scoring import Counts, score_cells

#: Variants per report the model is trained on.
TRAIN_VARIANTS = 24
C = 20.0


def has_tables(report: AnnotatedReport) -> bool:
    return bool(report.gold.get("tables")) and bool(report.gold.get("sections"))


def _sections(report: AnnotatedReport) -> list[Section]:
    return [Section(**s) for s in report.gold.get("sections", [])]


def _gold_columns(table: str, key: str, layout: str) -> tuple[str, ...]:
    if table == "active_disclosure":
        schema = ACTIVE_2019 if layout == "2019" or key not in ACTIVE_2021 else ACTIVE_2021
        return schema[key][1]
    return APPLICANT_COLUMNS


def seed_row_labels(report: AnnotatedReport) -> list[tuple[str, str | None, TableRow]]:
    """(table, key or None, row) for the rows of a report whose gold has no provenance.

    Rows are walked in printed order against the gold rows in template order;
    a row takes a gold row only when its figures equal the gold figures.  A
    table whose gold rows are not all found is left out (its rows unlabelled).
    """
    if not has_tables(report):
        return []
    relaid = relayout(Document(text=report.text))  # read as the pipeline reads it
    reading = read_rows(relaid.doc, relaid.sections_to_derived(_sections(report)))
    layout = report.gold.get("layout", "2021")
    out: list[tuple[str, str | None, TableRow]] = []
    for table in ("active_disclosure", "applications", "review_litigation"):
        gold_rows = report.gold["tables"].get(table, {})
        keys = [k for t, k in TEMPLATE if t == table and k in gold_rows]
        cands = [c.row for c in reading.candidates if c.region == table]
        labelled: list[tuple[str, str | None, TableRow]] = []
        j = 0
        for row in cands:
            if j < len(keys):
                key = keys[j]
                cols = (_gold_columns(table, key, layout) if table != "review_litigation"
                        else tuple(gold_rows[key]))
                want = [gold_rows[key].get(c) for c in cols]
                got = [read_value(c).value for c in row.values if c.kind != "blank"]
                if got == [v for v in want if v is not None]:
                    labelled.append((table, key, row))
                    j += 1
                    continue
            labelled.append((table, None, row))
        if j == len(keys):
            out.extend(labelled)
    return out


def _provenance_labels(report: AnnotatedReport, sections: list[Section]
                       ) -> list[tuple[str, TableRow]]:
    """(class, row) for every candidate row of a variant, from its gold provenance."""
    spans = sorted((s, name.rsplit(".", 1)[0]) for name, (s, _) in report.gold["provenance"].items())
    starts = [s for s, _ in spans]
    import bisect

    reading = read_rows(Document(text=report.text), sections)
    out = []
    for cand in reading.candidates:
        row = cand.row
        lo, hi = bisect.bisect_left(starts, row.start), bisect.bisect_right(starts, row.end)
        owners = Counter(spans[k][1] for k in range(lo, hi))
        if len(owners) > 1:
            continue  # a row holding several rows' figures teaches nothing clean
        out.append((next(iter(owners)) if owners else NONE_CLASS, row))
    return out


def training_rows(reports: list[AnnotatedReport], seed: int = 0,
                  n_variants: int = TRAIN_VARIANTS) -> tuple[list[dict], list[str]]:
    """Feature dicts and classes from ``reports`` and their augmented variants."""
    features: list[dict] = []
    classes: list[str] = []
    rng = random.Random(seed)
    for report in reports:
        if not has_tables(report):
            continue
        # the report as printed, and with its line breaks or all its whitespace lost
        read_whole = False
        for shaped in [report, *lost_layouts(report)]:
            labelled = seed_row_labels(shaped)
            for table, key, row in labelled:
                features.append(row_features(row))
                classes.append(f"{table}.{key}" if key else NONE_CLASS)
            if shaped is report:
                # (table 4 is mostly printed as bare figures, never labelled row by row)
                read_whole = {t for t, key, _ in labelled if key} >= {
                    t for t, rows in report.gold["tables"].items() if rows and t != "review_litigation"}
        if not read_whole:
            # A report whose tables the reader cannot follow as printed (labels torn from
            # their figures) keeps stray copies of its rows in every re-rendered variant,
            # where they would be taught as "no row": it gets no table variants.
            continue
        for i, variant in enumerate(variants(report, rng, n=n_variants)):
            # Every third variant is read as if segmentation had found no section.
            sections = [] if i % 3 == 2 else _sections(variant)
            for cls, row in _provenance_labels(variant, sections):
                features.append(row_features(row))
                classes.append(cls)
    return features, classes


def fit(reports: list[AnnotatedReport], seed: int = 0, n_variants: int = TRAIN_VARIANTS) -> RowModel:
    """Fit the row classifier on ``reports`` plus their layout-augmented variants."""
    features, classes = training_rows(reports, seed=seed, n_variants=n_variants)
    if not features:
        return RowModel()
    vectorizer = DictVectorizer(sort=True)
    x = vectorizer.fit_transform(features)
    classifier = LogisticRegression(C=C, max_iter=3000)
    classifier.fit(x, classes)
    meta = {"seed": seed, "reports": sorted(r.id for r in reports if has_tables(r)),
            "rows": len(classes), "variants_per_report": n_variants, "C": C}
    return RowModel.from_pipeline(Pipeline([("features", vectorizer), ("classifier", classifier)]), meta)


# --- evaluation -------------------------------------------------------------------------


def score_report_cells(report: AnnotatedReport, model: RowModel, use_sections: bool = True):
    relaid = relayout(Document(text=report.text))
    sections = relaid.sections_to_derived(_sections(report)) if use_sections else []
    result = read_tables(relaid.doc, sections, model)
    return score_cells(report.gold, result.model_dump()), result


def cross_validate(reports: list[AnnotatedReport], seed: int = 0, n_variants: int = 8) -> dict:
    """Leave-one-report-out cell scores on held-out reports and their variants.

    Variants are scored twice: with the gold sections, and with no sections at
    all (the reader must then find the tables in the whole text).
    """
    pool = [r for r in reports if has_tables(r)]
    totals = {"seeds": Counts(), "variants": Counts(), "variants_no_sections": Counts()}
    by_tag: dict[str, Counts] = {}
    per_report: dict[str, dict] = {}
    errors: list[str] = []
    for fold in held_out_models(pool, lambda rest: fit(rest, seed=seed), folds=None, seed=None):
        held, model = fold.held[0], fold.model  # leave-one-out: one report per fold
        score, _ = score_report_cells(held, model)
        totals["seeds"] += score.counts
        errors += [f"{held.id}: {e}" for e in score.errors]
        held_counts = Counts()
        for variant in variants(held, random.Random(f"{seed}:{held.id}:cv"), n=n_variants):
            vs, _ = score_report_cells(variant, model)
            totals["variants"] += vs.counts
            held_counts += vs.counts
            for tag in variant.tags:
                by_tag.setdefault(tag, Counts())
                by_tag[tag] += vs.counts
            errors += [f"{variant.id} {variant.tags}: {e}" for e in vs.errors]
            ns, _ = score_report_cells(variant, model, use_sections=False)
            totals["variants_no_sections"] += ns.counts
            errors += [f"{variant.id} (no sections): {e}" for e in ns.errors]
        per_report[held.id] = {"seed": score.counts.as_dict(), "variants": held_counts.as_dict()}
    return {"totals": {k: c.as_dict() for k, c in totals.items()},
            "per_report": per_report,
            "by_tag": {k: c.as_dict() for k, c in sorted(by_tag.items())},
            "errors": errors}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path(__file__).resolve().parent.parent / "corpus")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "models")
    parser.add_argument("--cv", action="store_true", help="leave-one-report-out scores instead of fitting")
    parser.add_argument("--variants", type=int, default=8, help="held-out variants per report (--cv)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    reports = [r for r in load_corpus(args.corpus) if has_tables(r) and r.split != "test"]
    t0 = time.perf_counter()
    if args.cv:
        result = cross_validate(reports, seed=args.seed, n_variants=args.variants)
        print(json.dumps({k: v for k, v in result.items() if k != "errors"}, ensure_ascii=False, indent=1))
        for e in result["errors"][:40]:
            print(e, file=sys.stderr)
        print(f"{len(result['errors'])} errors, {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        return 0
    model = fit(reports, seed=args.seed)
    model.save(args.out)
    print(f"fitted on {len(reports)} reports, {model.meta.get('rows')} rows, "
          f"{time.perf_counter() - t0:.1f} s → {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
