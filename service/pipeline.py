"""``extract()``: ingest → segment → tables → metrics → checks, with models loaded once."""

from __future__ import annotations

import gc
import json
import os
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from service import checks, identity, ingest, metrics, relayout, scanned, segment, tables
from service.budget import DEFAULT as DEFAULT_BUDGET
from service.budget import Budget
from service.template import SECTION_VARIANTS
from service.types import Document, Extraction, ExtractionError

MANIFEST = "manifest.json"


def default_models_dir() -> Path:
    """Where the shipped models are: $GOVREPORT_MODELS, the checkout's models/,
    or the copy a non-editable install puts inside the package."""
    env = os.environ.get("GOVREPORT_MODELS")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    checkout = here.parent / "models"
    if (checkout / MANIFEST).exists():
        return checkout
    return here / "_models"


@dataclass
class Models:
    """Every trained component, loaded from one directory."""

    directory: Path
    sections: segment.SectionModel
    table_rows: tables.RowModel
    metrics: metrics.MetricModel
    manifest: dict = field(default_factory=dict)

    @classmethod
    def load(cls, directory: str | Path | None = None) -> Models:
        directory = Path(directory) if directory else default_models_dir()
        if not (directory / MANIFEST).exists():
            raise FileNotFoundError(
                f"no trained models in {directory} (missing {MANIFEST}); run `govreport train`")
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        return cls(directory=directory,
                   sections=segment.SectionModel.load(directory),
                   table_rows=tables.RowModel.load(directory),
                   metrics=metrics.MetricModel.load(directory),
                   manifest=manifest)

    @property
    def version(self) -> str:
        return str(self.manifest.get("version", "unknown"))


_lock = threading.Lock()
_models: Models | None = None


def get_models() -> Models:
    """The process-wide models, loaded on first use."""
    global _models
    if _models is None:
        with _lock:
            if _models is None:
                _models = Models.load()
    return _models


def reload_models(directory: str | Path | None = None) -> Models:
    """Load models afresh and swap them in; requests in flight keep the old set."""
    global _models
    fresh = Models.load(directory)
    with _lock:
        _models = fresh
    return fresh


def freeze_loaded_heap() -> None:
    """For a process that only extracts (the CLI, an HTTP worker), once the models are
    loaded: take everything loaded so far out of the garbage collector's sight.

    The models and jieba's dictionary (what of it is read) then cost
    nothing at each collection, and workers forked after loading keep sharing those
    memory pages (a collection writes to every object it visits).  Not done by
    ``get_models``: in someone else's program it would freeze their objects too.
    """
    gc.freeze()


class StageClock:
    """Seconds spent per stage, summed over the documents it is passed with
    (``govreport bench`` shows where the time goes)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def start(self) -> None:
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self._last
        self._last = now


def extract_document(doc: Document, models: Models | None = None,
                     clock: StageClock | None = None) -> Extraction:
    """Run every stage after ingestion on one document (timing each on ``clock``).

    Offsets in the result index ``doc.text``; the stages may read a relaid copy of it
    (line breaks inserted where a long line needs them, see ``service.relayout``).
    """
    models = models or get_models()
    if not doc.text.strip():
        raise ExtractionError("empty", "the document has no text")
    lap = clock.lap if clock else _no_lap
    if clock:
        clock.start()
    submitted = doc
    report = identity.identify(doc)  # (read from the text as submitted: its offsets; timed with relayout)
    relaid = relayout.relayout(doc)
    doc = relaid.doc
    lap("relayout")
    sections = segment.segment(doc, models.sections)
    lap("segment")
    table_result = tables.read_tables(doc, sections, models.table_rows)
    lap("tables")
    warnings = list(doc.warnings)
    if not any(s.key != "preamble" for s in sections) and not any(table_result.tables.values()):
        named = report_evidence(doc.text)
        if len(named) < MIN_EVIDENCE:
            scan_note = ("; the text was read by OCR from page images, which reads a scan of about "
                         "150 dpi or more" if submitted.read_by_ocr else "")
            raise ExtractionError(
                "not_a_report",
                f"no section heading or disclosure table of a 政府信息公开工作年度报告 was found{scan_note}")
        # refusing a real report is the worst answer: read what can be read, and say so
        warnings.append(f"no section heading or table could be placed, although the text names "
                        f"{len(named)} of the report's section titles and table rows "
                        f"({'、'.join(named[:4])}); only prose figures were read")
    found_metrics = metrics.extract_metrics(doc, sections, models.metrics)
    lap("metrics")
    # Every part was built as its declared type by the stages: assembled without
    # validating it all again (which cost as much as a stage).
    extraction = Extraction.model_construct(**dict(table_result), report=report, sections=sections,
                                            metrics=found_metrics, format=doc.format,
                                            warnings=warnings)
    extraction.checks = checks.run_checks(extraction, doc.text)
    extraction.audit = checks.summarise(extraction.checks)
    extraction = relaid.restore(extraction)
    if submitted.glyphs:  # a PDF or a scan: figures located on their pages, misreadings repaired
        extraction = scanned.review(extraction, submitted)
    lap("checks")
    return extraction


#: How many of the report's own section titles and table row labels a text must name to
#: be read rather than refused when no heading or table could be placed in it.
MIN_EVIDENCE = 2
#: Wordings only a disclosure table prints (row labels without their numbering, headers).
_TABLE_WORDINGS = ("本年新收政府信息公开申请数量", "上年结转政府信息公开申请数量", "结转下年度继续办理", "本年度办理结果",
                   "本年制发件数", "现行有效件数", "本年处理决定数量", "本年收费金额", "申请人情况")


def report_evidence(text: str) -> list[str]:
    """The report's section titles and table-row wordings that ``text`` names (a
    section's wordings count once)."""
    found: list[str] = []
    for titles in SECTION_VARIANTS.values():
        title = next((t for t in titles if len(t) >= 4 and t in text), None)
        if title:
            found.append(title)
    found += [w for w in _TABLE_WORDINGS if w in text]
    return found


def _no_lap(stage: str) -> None:
    pass


def read_report(source: bytes | str | list[bytes], filename: str | None = None, *,
                include_text: bool = False, models: Models | None = None,
                budget: Budget | None = None, max_chars: int | None = None) -> Extraction:
    """Read one report (text, file bytes, or the page images of a scan as a list of
    byte strings) into an ``Extraction``.

    ``budget`` bounds what reading the input may cost (``service.budget``; the
    defaults when None); ``max_chars`` overrides its character limit.  Raises
    ``ExtractionError`` (with a stable ``code``) when the input cannot be read as a
    report or passes a limit.
    """
    budget = budget or DEFAULT_BUDGET
    if max_chars is not None:
        budget = replace(budget, chars=max_chars)
    doc = ingest.read(source, filename=filename, budget=budget)
    extraction = extract_document(doc, models)
    if include_text:
        extraction.text = doc.text
    return extraction


def extract_file(path: str | list[str], *, include_text: bool = False, max_mb: float = ingest.MAX_FILE_MB,
                 models: Models | None = None) -> dict:
    """One file's extraction as the spec's JSON dict, or ``{"error": {"code", "detail"}}``
    for a file that cannot be read as a report (never an exception); ``-`` is stdin; a
    list of paths is the page images of one scanned report, in order.
    The budgets of the environment apply (``service.budget``)."""
    try:
        if isinstance(path, list):
            data: bytes | list[bytes] = [_page_file(p, max_mb) for p in path]
            name = None
        else:
            data = ingest.read_file(path, max_mb)
            name = None if path == "-" else Path(path).name
        return extract(data, filename=name, include_text=include_text,
                       models=models or get_models(), budget=Budget.from_env())
    except ExtractionError as exc:
        return {"error": {"code": exc.code, "detail": exc.detail}}
    except RecursionError:
        return {"error": {"code": "too_complex", "detail": "the document is nested too deeply"}}


def _page_file(path: str, max_mb: float) -> bytes:
    """One page image of a set, its path named in an error (a set has many)."""
    try:
        return ingest.read_file(path, max_mb)
    except ExtractionError as exc:
        raise ExtractionError(exc.code, f"{path}: {exc.detail}") from None


def extract(source: bytes | str | list[bytes], filename: str | None = None, *,
            include_text: bool = False, models: Models | None = None,
            budget: Budget | None = None, max_chars: int | None = None) -> dict:
    """The spec's JSON of one report as a dict (see ``read_report``)."""
    return read_report(source, filename, include_text=include_text, models=models,
                       budget=budget, max_chars=max_chars).model_dump(exclude_none=False)
