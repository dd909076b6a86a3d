"""``govreport train``: fit every model on the annotated corpus and write models/.

The model files are deterministic (fixed seeds, sorted JSON, no timestamps), so
the same corpus gives byte-identical files; ``manifest.json`` names the model
set by a hash of those files and records the cross-validated scores that
``MODEL_CARD.md`` presents.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from collections.abc import Callable
from datetime import date
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from training.corpus import AnnotatedReport, load_corpus
from training.evaluate import cross_validate

MODEL_FILES = ("sections.json.gz", "table_rows.json.gz", "metrics.json.gz")
LIBRARIES = ("govreport", "scikit-learn", "numpy", "spacy", "jieba", "rapidfuzz", "pdfplumber")


def _library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for lib in LIBRARIES:
        try:
            versions[lib] = version(lib)
        except PackageNotFoundError:
            versions[lib] = "not installed"
    return versions


def models_version(out_dir: Path) -> str:
    """A short hash of the model files: equal models, equal version."""
    h = hashlib.sha256()
    for name in MODEL_FILES:
        path = out_dir / name
        if path.exists():
            h.update(name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:12]


def train_all(corpus_dirs: list[Path], out_dir: Path, seed: int = 0, folds: int = 5,
              cv: bool = True, step: Callable[[str], None] | None = None) -> dict:
    """Train every model on the train split of ``corpus_dirs``; write ``out_dir``."""
    from service.metrics import check_words_match_spacy
    from training import train_metrics, train_sections, train_tables

    step = step or (lambda _msg: None)
    started = time.perf_counter()
    reports = load_corpus(*corpus_dirs)
    train = [r for r in reports if r.split != "test"]
    if not train:
        raise ValueError(f"no training reports in {', '.join(map(str, corpus_dirs))}")
    # The metric features are cut into words without spaCy at run time; make sure
    # that still cuts as the spaCy zh pipeline does before models learn from it.
    step("checking the word cutter against the spaCy zh pipeline")
    check_words_match_spacy(r.text for r in train)
    out_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    for name, trainer in (("sections", train_sections), ("table_rows", train_tables),
                          ("metrics", train_metrics)):
        step(f"training {name} on {len(train)} reports")
        t0 = time.perf_counter()
        trainer.fit(train, seed=seed).save(out_dir)
        timings[name] = round(time.perf_counter() - t0, 2)

    scores: dict = {}
    if cv:
        results = cross_validate(reports, folds=folds, seed=seed, progress=step)
        scores = {name: {task: c.as_dict() for task, c in res.totals().items()}
                  for name, res in results.items() if res.reports}
        for name, res in results.items():
            if res.reports and "metrics" in res.totals():
                scores[name]["metric_span_overlap"] = res.span_overlap().as_dict()
    manifest = {
        "version": models_version(out_dir),
        "trained": date.today().isoformat(),
        "seed": seed,
        "corpus": _corpus_summary(reports) | {"sources": _sources(corpus_dirs)},
        "train_seconds": timings | {"total": round(time.perf_counter() - started, 2)},
        "scores": scores,
        "libraries": _library_versions(),
        "files": list(MODEL_FILES),
    }
    (out_dir / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    (out_dir / "MODEL_CARD.md").write_text(model_card(manifest), encoding="utf-8")
    return manifest


def _corpus_summary(reports: list[AnnotatedReport]) -> dict:
    return {
        "reports": len(reports),
        "train": sum(r.split != "test" for r in reports),
        "test": sum(r.split == "test" for r in reports),
        "with_tables": sum("tables" in r.gold for r in reports),
        "metric_mentions": sum(len(r.gold.get("metrics", [])) for r in reports),
    }


REPO = Path(__file__).resolve().parent.parent


def _sources(corpus_dirs: list[Path]) -> list[dict]:
    """Each corpus directory as given (relative to the checkout where it is inside it)
    with its report count, and whether it lies outside the repository."""
    out = []
    for d in corpus_dirs:
        path = Path(d).resolve()
        inside = path == REPO or REPO in path.parents
        name = str(path.relative_to(REPO)) if inside else str(d)
        out.append({"dir": name, "reports": len(load_corpus(d, check=False)), "in_repository": inside})
    return out


def _training_data_lines(corpus: dict) -> list[str]:
    lines = [f"- {corpus['reports']} annotated reports ({corpus['train']} train, {corpus['test']} test split; "
             f"{corpus['with_tables']} with tables; {corpus['metric_mentions']} prose metric mentions), from:"]
    for source in corpus.get("sources", [{"dir": "corpus", "reports": corpus["reports"], "in_repository": True}]):
        where = ("in this repository" if source["in_repository"] else
                 "third-party real reports, read in place and never copied into the repository "
                 "(the models learned from them; they are not shipped)")
        lines.append(f"  - `{source['dir']}`: {source['reports']} reports, {where}")
    return lines


def model_card(manifest: dict) -> str:
    corpus = manifest["corpus"]
    lines = [
        "# govreport models — model card",
        "",
        f"Model set `{manifest['version']}`, trained {manifest['trained']} with seed {manifest['seed']} "
        "by `govreport train`.",
        "",
        "## What the models do",
        "- `sections.json.gz` — scores each line as the heading of one of the six sections (or none); "
        "decoded under the order constraint (sections in order, each at most once).",
        "- `table_rows.json.gz` — classifies each table row's label to its canonical key "
        "(tables 2, 3, 4; 2021 and 2019 layouts), combined with a monotone alignment to the template.",
        "- `metrics.json.gz` — classifies each number in running text into a prose metric type "
        "(and channel for published items) or none.",
        "",
        "All are linear scikit-learn models stored as plain JSON (`service/modelstore.py`): loading one "
        "executes no code.",
        "",
        "## Training data",
        *_training_data_lines(corpus),
        "- Each trainer widens its training data with augmented variants of the train reports only "
        "(heading styles, table layouts, and the text without its line breaks or whitespace; see "
        "`training/augment/`).",
        "",
        "## Cross-validated scores",
        "Models never see the report they are scored on: `cv` = k-fold by report over the train split, "
        "`cv_augmented` = augmented variants of the held-out reports, `test` = the test split scored by "
        "models fitted on the whole train split.",
        "",
        "| set | task | precision | recall | F1 | tp | fp | fn |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, tasks in manifest.get("scores", {}).items():
        for task, c in tasks.items():
            lines.append(f"| {name} | {task} | {c['precision']:.4f} | {c['recall']:.4f} | {c['f1']:.4f} "
                         f"| {c['tp']} | {c['fp']} | {c['fn']} |")
    if not manifest.get("scores"):
        lines.append("| (not computed: trained with --no-cv) | | | | | | | |")
    lines += [
        "",
        "## Training time",
        ", ".join(f"{k}: {v} s" for k, v in manifest["train_seconds"].items()),
        "",
        "## Library versions",
        ", ".join(f"{k} {v}" for k, v in manifest["libraries"].items()),
        "",
        "## Limits",
        "- The corpus is small; accuracy on unseen real reports is estimated by cross-validation and "
        "augmented layouts, not guaranteed. Add annotated reports (`govreport annotate`) and retrain.",
        "- Scanned PDFs (no text layer) are not supported (no OCR).",
        "",
    ]
    return "\n".join(lines)
