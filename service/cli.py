"""The ``govreport`` command line: extract, audit, serve, train, evaluate, annotate, bench, corpus check.

Every command answers bad input with a one-line message on stderr and a
non-zero exit code, never a traceback.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from service.ingest import MAX_FILE_MB

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Read 政府信息公开工作年度报告 into checked, traceable JSON.")
corpus_app = typer.Typer(no_args_is_help=True, help="Work with the annotated corpus.")
app.add_typer(corpus_app, name="corpus")

err = Console(stderr=True, soft_wrap=True)


def _fail(message: str, code: int = 2) -> None:
    err.print(f"govreport: {message}", markup=False, highlight=False)
    raise typer.Exit(code)


def _progress(total: int, enabled: bool):
    """A progress bar on stderr for long work; silent when not wanted."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=err, disable=not enabled, transient=True)


# --- extract ------------------------------------------------------------------

# The models a worker process uses.  Forked workers inherit the parent's, loaded
# once before the pool starts, so a worker costs nothing to start; where fork is
# unavailable each worker loads its own (_init_worker).
_worker_models = None


def _init_worker(models_dir: str | None) -> None:
    global _worker_models
    from service.pipeline import Models

    _worker_models = Models.load(models_dir)


def _extract_one(path: str | list[str], include_text: bool = False, max_mb: float = MAX_FILE_MB) -> dict:
    """Extract one file; errors become an ``error`` object, never an exception."""
    from service.pipeline import extract_file

    return {"source": path, **extract_file(path, include_text=include_text, max_mb=max_mb, models=_worker_models)}


def _extract_line(path: str | list[str], include_text: bool = False,
                  max_mb: float = MAX_FILE_MB) -> tuple[str | None, str]:
    """(error message or None, the JSON line) of one file: serialised in the worker,
    so the parent only writes lines."""
    result = _extract_one(path, include_text, max_mb)
    source = ", ".join(path) if isinstance(path, list) else path
    error = f"{source}: {result['error']['detail']}" if "error" in result else None
    return error, json.dumps(result, ensure_ascii=False) + "\n"


def _models_or_fail(models_dir: Path | None):
    from service.pipeline import freeze_loaded_heap, get_models, reload_models

    try:  # loaded into the process-wide slot: the commands and the server reuse them
        models = reload_models(models_dir) if models_dir else get_models()
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    freeze_loaded_heap()
    return models


def _pool(jobs: int, models_dir: Path | None) -> ProcessPoolExecutor:
    if "fork" in multiprocessing.get_all_start_methods():  # workers inherit _worker_models
        return ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"))
    return ProcessPoolExecutor(jobs, initializer=_init_worker,
                               initargs=(str(models_dir) if models_dir else None,))


@app.command()
def extract(
    files: Annotated[list[str] | None, typer.Argument(
        help="Report files (txt, html, docx, pdf, png, jpeg, tiff); - reads stdin", show_default=False)] = None,
    stdin: Annotated[bool, typer.Option("--stdin", help="Read one report from stdin (as the file -)")] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Worker processes (0 = all cores)")] = 0,
    include_text: Annotated[bool, typer.Option(help="Add the derived text to each result")] = False,
    models: Annotated[Path | None, typer.Option(help="Models directory")] = None,
    max_mb: Annotated[float, typer.Option(help="Largest input file, MB")] = MAX_FILE_MB,
    pages: Annotated[bool, typer.Option(
        "--pages", help="The files are the page images (PNG, JPEG, TIFF) of one scanned report, in order")] = False,
) -> None:
    """Print one JSON object per file (JSON Lines); exit 1 if any file failed.

    Scanned PDFs and page images are read by OCR. The budgets of service.budget apply
    (GOVREPORT_MAX_CHARS, GOVREPORT_MAX_CELLS, GOVREPORT_MAX_SCANNED_PAGES, …)."""
    global _worker_models
    from service.budget import Budget

    try:
        Budget.from_env()
    except ValueError as exc:
        _fail(str(exc))
    files = (["-"] if stdin else []) + list(files or [])
    if not files:
        _fail("no input: give report files, or --stdin")
    if files.count("-") > 1:
        _fail("stdin (-) can be read once")
    _worker_models = _models_or_fail(models)
    if pages:
        if "-" in files:
            _fail("--pages reads files, not stdin")
        error, line = _extract_line(files, include_text, max_mb)
        if error:
            err.print(f"govreport: {error}", markup=False, highlight=False)
        sys.stdout.write(line)
        sys.stdout.flush()
        raise typer.Exit(1 if error else 0)
    jobs = jobs or os.cpu_count() or 1
    jobs = max(1, min(jobs, len(files)))
    failed = 0
    show = len(files) > 1 and err.is_terminal

    def emit(error: str | None, line: str) -> None:
        nonlocal failed
        if error:
            failed += 1
            err.print(f"govreport: {error}", markup=False, highlight=False)
        sys.stdout.write(line)

    with _progress(len(files), show) as bar:
        task = bar.add_task("extracting", total=len(files))
        if jobs == 1 or "-" in files:
            for path in files:
                emit(*_extract_line(path, include_text, max_mb))
                bar.advance(task)
        else:
            with _pool(jobs, models) as pool:
                # chunks big enough to keep inter-process traffic small, small
                # enough for the progress bar to move and the cores to finish together
                chunk = max(1, min(16, len(files) // (jobs * 8)))
                for error, line in pool.map(_extract_line, files, [include_text] * len(files),
                                            [max_mb] * len(files), chunksize=chunk):
                    emit(error, line)
                    bar.advance(task)
    sys.stdout.flush()
    if failed:
        raise typer.Exit(1)


# --- audit --------------------------------------------------------------------

@app.command()
def audit(
    files: Annotated[list[str], typer.Argument(help="Report files")],
    models: Annotated[Path | None, typer.Option(help="Models directory")] = None,
) -> None:
    """Check each report's 勾稽关系 and narrative; exit 1 if any rule fails."""
    from service.audit_view import render_audit

    _models_or_fail(models)
    out = Console()
    any_failed, any_error = False, False
    for path in files:
        result = _extract_one(path)
        if "error" in result:
            any_error = True
            err.print(f"govreport: {path}: {result['error']['detail']}", markup=False, highlight=False)
            continue
        render_audit(path, result, out)
        any_failed |= result["audit"]["failed"] > 0
    if any_error:
        raise typer.Exit(2)
    if any_failed:
        raise typer.Exit(1)


# --- archive: batch, export, compare -------------------------------------------

@app.command()
def batch(
    paths: Annotated[list[str], typer.Argument(help="Report files and folders (walked for every format)")],
    db: Annotated[Path, typer.Option(help="The DuckDB database (created when missing)")] = Path("results.duckdb"),
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Worker processes (0 = all cores)")] = 0,
    force: Annotated[bool, typer.Option(help="Read again the files already stored")] = False,
    reprocess_older: Annotated[bool, typer.Option(help="Read again the files another models version read")] = False,
    engine: Annotated[str, typer.Option(help="local (processes) or dask")] = "local",
    scheduler: Annotated[str | None, typer.Option(
        help="Dask scheduler address (tcp://HOST:8786); without it --engine dask starts a local cluster")] = None,
) -> None:
    """Store every report under PATHS in a DuckDB archive; a re-run stores only what is new."""
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from service import batch as batch_mod
    from service.archive import ArchiveError

    if engine not in ("local", "dask"):
        _fail(f"--engine {engine}: choose local or dask")
    _models_or_fail(None)
    jobs = jobs or os.cpu_count() or 1
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]} files/s"), TimeRemainingColumn(),
               TextColumn("failed {task.fields[failed]}"))
    with Progress(*columns, console=err, disable=not err.is_terminal, transient=True) as bar:
        task = bar.add_task("storing", total=None, rate="-", failed=0)
        started = [0.0]

        def on_start(total: int) -> None:
            started[0] = time.monotonic()
            bar.update(task, total=total)

        def on_file(summary, total: int) -> None:
            elapsed = max(1e-9, time.monotonic() - started[0])
            bar.update(task, completed=summary.stored, rate=f"{summary.stored / elapsed:.1f}",
                       failed=summary.failed)

        try:
            summary = batch_mod.run(paths, db, jobs=jobs, force=force, reprocess_older=reprocess_older,
                                    engine=engine, scheduler=scheduler, on_file=on_file, on_start=on_start)
        except (ArchiveError, FileNotFoundError) as exc:
            _fail(str(exc))
    for line in summary.errors:
        err.print(f"govreport: {line}", markup=False, highlight=False)
    err.print(f"{summary.files} files: {summary.stored} stored ({summary.failed} failed), "
              f"{summary.skipped} already stored; database {db}", markup=False, highlight=False)


@app.command("export")
def export_cmd(
    db: Annotated[Path, typer.Option(help="The DuckDB database written by govreport batch")],
    out: Annotated[Path, typer.Option(help="The .xlsx file, or the folder for csv/parquet files")],
    format: Annotated[str, typer.Option("--format", help="xlsx, csv or parquet")] = "xlsx",
    agency: Annotated[str | None, typer.Option(help="Only this agency (name or key, in part)")] = None,
    year: Annotated[int | None, typer.Option(help="Only this reporting year")] = None,
) -> None:
    """Export the archive: XLSX laid out like the report, or CSV / Parquet in long form."""
    from service.archive import ArchiveError
    from service.export import export

    try:
        n = export(db, format, out, agency=agency, year=year)
    except (ArchiveError, ValueError) as exc:
        _fail(str(exc))
    err.print(f"{n} reports exported to {out}", markup=False, highlight=False)


@app.command()
def compare(
    db: Annotated[Path, typer.Option(help="The DuckDB database written by govreport batch")],
    agency: Annotated[str | None, typer.Option(help="Only this agency (key or name)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a readable summary")] = False,
) -> None:
    """An agency's figures year by year and the cross-year checks; exit 1 if any fails."""
    from service.archive import ArchiveError
    from service.compare import compare as compare_db

    try:
        agencies = compare_db(db, agency)
    except ArchiveError as exc:
        _fail(str(exc))
    if as_json:
        print(json.dumps(agencies, ensure_ascii=False, indent=1))
    else:
        out = Console()
        for a in agencies:
            audit = a["audit"]
            out.print(f"[bold]{a['agency']}[/] ({a['agency_key']}): years {', '.join(map(str, a['years']))}; "
                      f"cross-year checks {audit['passed']} passed, {audit['failed']} failed, "
                      f"{audit['unknown']} unknown")
            for c in a["checks"]:
                if c["ok"] is False:
                    out.print(f"  [red]✗[/] {c['rule']} {c['scope']}: {c['detail']}", highlight=False)
    if any(a["audit"]["failed"] for a in agencies):
        raise typer.Exit(1)


# --- serve --------------------------------------------------------------------

@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
    max_upload_mb: Annotated[float | None, typer.Option(
        help="Largest accepted upload, MB [default: $GOVREPORT_MAX_UPLOAD_MB, else 20]", show_default=False)] = None,
    timeout: Annotated[float | None, typer.Option(
        help="Per-request time limit, seconds [default: $GOVREPORT_TIMEOUT_S, else 60]", show_default=False)] = None,
    db: Annotated[Path | None, typer.Option(
        help="Serve this govreport batch archive too (/v1/reports, /v1/compare)")] = None,
    corpus_dir: Annotated[Path | None, typer.Option(
        help="Where the review page saves corrected annotations (off without it) "
             "[default: $GOVREPORT_CORPUS_DIR]", show_default=False)] = None,
) -> None:
    """Run the HTTP extraction service (POST /v1/extract) and the review page at /."""
    from service import api
    from service.archive import ArchiveError, connect

    _models_or_fail(None)
    if db is not None:
        try:
            connect(db, create=False, read_only=True).close()
        except ArchiveError as exc:
            _fail(str(exc))
    if corpus_dir is not None:
        try:
            corpus_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            _fail(f"--corpus-dir {corpus_dir}: {exc.strerror or exc}")
    try:
        api.run(host=host, port=port, workers=workers, max_upload_mb=max_upload_mb, timeout_s=timeout,
                db=str(db) if db else None, corpus_dir=str(corpus_dir) if corpus_dir else None)
    except ValueError as exc:  # a limit in the environment that is not a number
        _fail(str(exc))


# --- training and evaluation --------------------------------------------------

def _corpus_dirs(corpus: list[Path] | None) -> list[Path]:
    dirs = corpus or [Path("corpus")]
    for d in dirs:
        if not d.is_dir():
            _fail(f"{d}: corpus directory not found (give --corpus DIR)")
    return dirs


@app.command()
def train(
    corpus: Annotated[list[Path] | None, typer.Option(help="Corpus directory (repeatable)")] = None,
    out: Annotated[Path, typer.Option(help="Where to write the models")] = Path("models"),
    seed: Annotated[int, typer.Option(help="Random seed")] = 0,
    folds: Annotated[int, typer.Option(help="Cross-validation folds for the model card")] = 5,
    cv: Annotated[bool, typer.Option(help="Cross-validate for the model card")] = True,
) -> None:
    """Train every model on the corpus; write models/ and models/MODEL_CARD.md."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from training.corpus import AnnotationError
    from training.train import train_all

    dirs = _corpus_dirs(corpus)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=err, transient=True) as bar:
        task = bar.add_task("loading corpus", total=None)
        try:
            manifest = train_all(dirs, out, seed=seed, folds=folds, cv=cv,
                                 step=lambda msg: bar.update(task, description=msg))
        except (AnnotationError, ValueError) as exc:
            _fail(str(exc))
    err.print(f"models {manifest['version']} written to {out} in "
              f"{manifest['train_seconds']['total']} s", highlight=False)
    for name, tasks in manifest["scores"].items():
        line = ", ".join(f"{t} F1 {c['f1']:.4f}" for t, c in tasks.items())
        err.print(f"  {name}: {line}", highlight=False)


@app.command()
def evaluate(
    corpus: Annotated[list[Path] | None, typer.Option(help="Corpus directory (repeatable)")] = None,
    models: Annotated[list[Path] | None, typer.Option(
        help="Models directory; give it twice to compare two model sets")] = None,
    cv: Annotated[bool, typer.Option(help="Cross-validate: retrain per fold, score held-out "
                                          "reports and their augmented variants")] = False,
    folds: Annotated[int, typer.Option(help="Folds for --cv")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables")] = False,
) -> None:
    """Score extraction against the corpus gold: sections, table cells, prose metrics."""
    from service.pipeline import Models
    from training import evaluate as ev
    from training.corpus import AnnotationError, load_corpus

    dirs = _corpus_dirs(corpus)
    try:
        reports = load_corpus(*dirs)
    except AnnotationError as exc:
        _fail(str(exc))
    if not reports:
        _fail(f"no annotated reports in {', '.join(map(str, dirs))}")
    out = Console()
    if cv:
        with _progress(0, not as_json and err.is_terminal) as bar:
            task = bar.add_task("cross-validating", total=None)
            results = ev.cross_validate(reports, folds=folds,
                                        progress=lambda m: bar.update(task, description=m))
        results = {k: v for k, v in results.items() if v.reports}
        if as_json:
            print(json.dumps({k: ev.as_dict(v) for k, v in results.items()}, ensure_ascii=False))
        else:
            for name, res in results.items():
                ev.render(res, out, title=name)
        return
    model_dirs = models or [None]
    if len(model_dirs) > 2:
        _fail("give --models at most twice (before and after)")
    results = {}
    for d in model_dirs:
        try:
            loaded = Models.load(d)
        except (FileNotFoundError, ValueError) as exc:
            _fail(str(exc))
        with _progress(len(reports), not as_json and err.is_terminal) as bar:
            task = bar.add_task(f"evaluating {loaded.directory}", total=len(reports))
            results[str(loaded.directory)] = ev.evaluate(reports, loaded,
                                                         progress=lambda t=task: bar.advance(t))
    if as_json:
        print(json.dumps({k: ev.as_dict(v) for k, v in results.items()}, ensure_ascii=False))
    elif len(results) == 1:
        ev.render(next(iter(results.values())), out)
    else:
        for name, res in results.items():
            ev.render(res, out, title=name, max_errors=5)
        ev.render_comparison(results, out)


@app.command()
def annotate(
    file: Annotated[Path, typer.Argument(help="A report to annotate")],
    out: Annotated[Path | None, typer.Option(help="Gold file to write (default: beside FILE)")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing gold file")] = False,
) -> None:
    """Write a pre-filled <id>.gold.json from the current models, for a person to correct."""
    from training.corpus import GOLD_SUFFIX

    target = out or file.with_name(file.name.rsplit(".", 1)[0] + GOLD_SUFFIX)
    if target.exists() and not force:
        _fail(f"{target} exists; it may hold corrections (use --force to overwrite)")
    result = _extract_one(str(file))
    if "error" in result:
        _fail(f"{file}: {result['error']['detail']}")
    gold = {"layout": result["layout"], "sections": result["sections"], "tables": result["tables"],
            "metrics": result["metrics"]}
    target.write_text(json.dumps(gold, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    err.print(f"wrote {target}: correct it, then run `govreport corpus check`", highlight=False)


@app.command()
def bench(
    out: Annotated[Path, typer.Option(help="Where to write the JSON results")] = Path(
        "bench-results/latest.json"),
    quick: Annotated[bool, typer.Option(help="Fewer rounds and requests (a smoke run)")] = False,
) -> None:
    """Measure speed, memory and scale against baselines in the same run."""
    from training import bench as bench_mod

    if not Path("corpus").is_dir():
        _fail("run govreport bench from the project checkout (it needs corpus/)")
    with _progress(0, err.is_terminal) as bar:
        task = bar.add_task("benchmarking", total=None)
        results = bench_mod.run(out, quick=quick, step=lambda m: bar.update(task, description=m))
    bench_mod.render(results, Console())
    err.print(f"results written to {out}", highlight=False)


@corpus_app.command("check")
def corpus_check(
    dirs: Annotated[list[Path] | None, typer.Argument(help="Corpus directories")] = None,
) -> None:
    """Validate every annotation; exit 1 with one line per problem."""
    from training.corpus import check_corpus

    dirs = dirs or [Path("corpus")]
    problems = check_corpus(*dirs)
    for p in problems:
        print(p)
    if problems:
        raise typer.Exit(1)
    from training.corpus import load_corpus

    print(f"ok: {len(load_corpus(*dirs))} annotated reports")


def main() -> None:  # pragma: no cover - entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
