"""Training and cross-validating the section model (``service.segment``).

``fit`` labels every heading candidate of the given reports — and of their
heading-style variants (``training/augment/headings.py``) — as the section key
whose gold start it is, or ``none``, and fits a multinomial logistic
regression over ``service.segment.candidates``' features.  The decoder's
presence bonus is tuned by an inner cross-validation over the same reports.

``cross_validate`` trains on all reports but a fold and scores the fold and
augmented variants of the fold's reports (generated from them only), e.g.::

    python -c "from training.corpus import load_corpus; from training.train_sections import \\
cross_validate, report; print(report(cross_validate(load_corpus('corpus'))))"
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from service.segment import (
    DEFAULT_ANCHORS,
    HEADING_KEYS,
    NONE,
    Anchors,
    SectionModel,
    candidates,
    decode,
    learned_wordings,
    segment,
)
from training.augment import headings
from training.corpus import AnnotatedReport
from training.cv import held_out_models
from training.scoring import Counts, score_sections

#: Heading-style variants added per training report.
TRAIN_VARIANTS = 16
#: Inverse regularisation strength of the logistic regression.
C = 1.0
#: Presence bonuses tried when tuning the decoder, and the one used without data to tune on.
BONUS_GRID = np.round(np.arange(0.0, 6.01, 0.25), 2)
DEFAULT_BONUS = 2.0


def _heading_start(text: str, start: int) -> int:
    while start < len(text) and (text[start].isspace() or text[start] == "#"):
        start += 1
    return start


def unreachable_headings(report: AnnotatedReport, anchors: Anchors = DEFAULT_ANCHORS) -> list[str]:
    """Gold headings that are not candidate lines, which the model can never find
    (the candidate filter, or the annotation, needs a look)."""
    text = report.text
    seen = {c.start for c in candidates(text, anchors)}
    return [f"{report.id}: heading of {s['key']} at {s['start']} is not a candidate line "
            f"({text[s['start']:s['start'] + 40]!r})"
            for s in report.gold.get("sections", [])
            if s["key"] != "preamble" and _heading_start(text, s["start"]) not in seen]


def training_set(reports: list[AnnotatedReport], seed: int = 0,
                 n_variants: int = TRAIN_VARIANTS) -> list[list[AnnotatedReport]]:
    """Per report with sections: the report followed by its heading-style variants."""
    groups: list[list[AnnotatedReport]] = []
    for r in sorted(reports, key=lambda r: r.id):
        if "sections" not in r.gold:
            continue
        rng = random.Random(f"{seed}:{r.id}:train")
        groups.append([r, *headings.variants(r, rng, n=n_variants)])
    return groups


@dataclass
class _Doc:
    """One training document, featurised once."""

    features: list[dict]
    labels: list[str]
    starts: list[int]
    gold: set[tuple[str, int]]
    rows: slice = field(default_factory=lambda: slice(0, 0))  # its rows in the training matrix


def _featurise(report: AnnotatedReport, anchors: Anchors) -> _Doc:
    text = report.text
    gold = {(s["key"], _heading_start(text, s["start"]))
            for s in report.gold.get("sections", []) if s["key"] != "preamble"}
    by_start = {start: key for key, start in gold}
    found = candidates(text, anchors)
    return _Doc([c.features for c in found], [by_start.get(c.start, NONE) for c in found],
                [c.start for c in found], gold)


def _classifier(X, y: np.ndarray, seed: int) -> LogisticRegression:
    if len(set(y.tolist())) < 2:
        raise ValueError("no section headings to learn from in the given reports")
    return LogisticRegression(C=C, max_iter=5000, random_state=seed).fit(X, y)


def _decoded_counts(model: SectionModel, X, docs: list[_Doc], bonuses: np.ndarray) -> list[Counts]:
    """Section counts on ``docs`` (their rows in ``X``) when decoding with each bonus."""
    counts = [Counts() for _ in bonuses]
    for d in docs:
        if not d.labels:
            for c in counts:
                c.fn += len(d.gold)
            continue
        logp = model.log_proba_matrix(X[d.rows])
        scores = logp[:, 1:] - logp[:, :1]
        for c, b in zip(counts, bonuses):
            pred = {(HEADING_KEYS[k], d.starts[r]) for r, k in decode(scores + b)}
            c.tp += len(pred & d.gold)
            c.fp += len(pred - d.gold)
            c.fn += len(d.gold - pred)
    return counts


def tune_presence_bonus(groups: list[list[_Doc]], vectorizer: DictVectorizer, X, y: np.ndarray,
                        seed: int = 0, folds: int = 3) -> float:
    """The decoding bonus that maximises section F1 on held-out reports.

    Inner cross-validation by report (a report and its variants stay
    together); the bonus is the middle of the best-scoring range, so that it
    sits away from both failure modes (missed headings, sentences taken for them).
    """
    if len(groups) < 2:
        return DEFAULT_BONUS

    def fit_without(rest: list[int]) -> SectionModel:
        # the rows of the training groups, in the order the matrix holds them
        rows = np.concatenate([np.arange(len(y))[d.rows] for g in sorted(rest) for d in groups[g]])
        return SectionModel(Pipeline([("features", vectorizer),
                                      ("classifier", _classifier(X[rows], y[rows], seed))]))

    totals = [Counts() for _ in BONUS_GRID]
    # Folds of group numbers (a report and its variants are one group).
    for fold in held_out_models(range(len(groups)), fit_without, folds=folds, seed=seed, key=int):
        held = [d for g in sorted(fold.held) for d in groups[g]]
        for total, c in zip(totals, _decoded_counts(fold.model, X, held, BONUS_GRID)):
            total += c
    f1 = np.array([c.f1 for c in totals])
    best = np.flatnonzero(f1 >= f1.max() - 1e-9)
    return float(BONUS_GRID[best[len(best) // 2]])


def fit(reports: list[AnnotatedReport], seed: int = 0,
        n_variants: int = TRAIN_VARIANTS) -> SectionModel:
    """Fit the section model on ``reports`` plus their heading variants.

    Features are vectorised once; the inner folds that tune the presence bonus
    and the final fit take rows of the same matrix.
    """
    # Annotated headings the template does not know widen the wordings the
    # candidates are compared with; the model carries them.
    wordings = learned_wordings([(s["key"], s.get("heading", "")) for r in reports
                                 for s in r.gold.get("sections", [])])
    anchors = Anchors.build(wordings)
    groups = [[_featurise(r, anchors) for r in group]
              for group in training_set(reports, seed, n_variants)]
    docs = [d for g in groups for d in g]
    pos = 0
    for d in docs:
        d.rows = slice(pos, pos + len(d.labels))
        pos += len(d.labels)
    vectorizer = DictVectorizer(sparse=True)
    X = vectorizer.fit_transform([f for d in docs for f in d.features]).tocsr()
    y = np.array([label for d in docs for label in d.labels])
    bonus = tune_presence_bonus(groups, vectorizer, X, y, seed)
    estimator = Pipeline([("features", vectorizer), ("classifier", _classifier(X, y, seed))])
    unreachable = sum(len(d.gold - {(label, st) for label, st in zip(d.labels, d.starts)})
                      for d in docs)
    meta = {"reports": len(groups), "documents": len(docs), "examples": len(y),
            "headings": int((y != NONE).sum()), "unreachable_headings": unreachable,
            "presence_bonus": bonus, "seed": seed, "learned_wordings": wordings}
    return SectionModel(estimator, meta)


def predict(report: AnnotatedReport, model: SectionModel) -> dict:
    from training.evaluate import document_for

    return {"sections": [s.model_dump() for s in segment(document_for(report), model)]}


def _score_into(totals: dict, errors: list[str], name: str, report: AnnotatedReport,
                model: SectionModel, seed: int, n_variants: int) -> None:
    """Score ``report`` (as ``name``) and its held-out variants (as ``name``_augmented)."""
    rng = random.Random(f"{seed}:{report.id}:eval")  # a stream training never uses
    tests = [(name, report)] + [(f"{name}_augmented", v)
                                for v in headings.variants(report, rng, n=n_variants)]
    for key, t in tests:
        score = score_sections(t.gold, predict(t, model), t.text)
        totals.setdefault(key, Counts())
        totals[key] += score.counts
        errors.extend(f"{t.id} {t.tags}: {e}" for e in score.errors)


def cross_validate(reports: list[AnnotatedReport], k: int = 5, seed: int = 0,
                   n_variants: int = 6,
                   progress: Callable[[str], None] | None = None) -> dict:
    """K-fold by report over the train split, plus the test split.

    ``cv``: each train-split report scored by a model fitted on the other
    folds; ``cv_augmented``: heading-style variants generated from the held-out
    report alone; ``test``/``test_augmented``: the test split (and its variants)
    scored by a model fitted on the whole train split.  Values are ``Counts``;
    ``errors`` lists every miss.
    """
    usable = sorted((r for r in reports if r.gold.get("sections")), key=lambda r: r.id)
    train = [r for r in usable if r.split != "test"]
    test = [r for r in usable if r.split == "test"]
    totals: dict = {}
    errors: list[str] = []
    for fold in held_out_models(train, lambda rest: fit(rest, seed=seed), folds=k, seed=seed, test=test,
                                progress=progress):
        for r in fold.held:
            _score_into(totals, errors, fold.split, r, fold.model, seed, n_variants)
    return {**totals, "errors": errors}


def report(result: dict) -> str:
    """The cross-validation figures as a few readable lines."""
    lines = [f"{name}: {c.as_dict()}" for name, c in result.items() if isinstance(c, Counts)]
    lines += result.get("errors", [])[:40]
    return "\n".join(lines)
