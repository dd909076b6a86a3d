"""The annotated corpus: loading reports with their gold, and validating annotations.

A report is ``<id>.<ext>`` (txt, html, docx, pdf) beside ``<id>.gold.json``.
Gold offsets index the text that ``service.ingest.read`` derives from the
source, which for ``.txt`` is the decoded file itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from service import ingest
from service.template import (
    CHANNELS,
    LAYOUTS,
    METRIC_TYPES,
    SECTION_KEYS,
    TABLE_KEYS,
    all_cell_keys,
)
from service.types import ExtractionError

SOURCE_SUFFIXES = (".txt", ".html", ".htm", ".docx", ".pdf")
GOLD_SUFFIX = ".gold.json"

#: Top-level keys an annotation may carry.
GOLD_KEYS = {"layout", "sections", "tables", "metrics", "checks", "doubtful", "notes", "split",
             "provenance", "cell_flags", "table_confidence", "unrecognised_rows", "audit",
             "format", "warnings", "text", "locations"}
SECTION_FIELDS = {"key", "heading", "start", "end"}
# confidence and location: as an extraction wrote them (govreport annotate)
METRIC_FIELDS = {"type", "channel", "value", "unit", "start", "end", "text", "confidence", "location"}
SPLITS = ("train", "test")


@dataclass
class AnnotatedReport:
    """One report of the corpus: its derived text and its gold extraction."""

    id: str
    text: str
    gold: dict
    path: Path | None = None
    #: Where the report came from: "corpus", or the augmenter that made it.
    origin: str = "corpus"
    tags: list[str] = field(default_factory=list)

    @property
    def split(self) -> str:
        """``test`` for reports set aside for evaluation only, else ``train``."""
        return self.gold.get("split", "train")


class AnnotationError(ValueError):
    """A malformed annotation; the message names the file and the field."""


def source_for(gold_path: Path) -> Path | None:
    """The source file beside a gold file, whatever its format."""
    stem = gold_path.name[: -len(GOLD_SUFFIX)]
    for suffix in SOURCE_SUFFIXES:
        candidate = gold_path.with_name(stem + suffix)
        if candidate.exists():
            return candidate
    return None


def read_source_text(path: Path) -> str:
    """The text the pipeline derives from a source file (what gold offsets index)."""
    return ingest.read(path.read_bytes(), filename=path.name).text


def load_report(gold_path: Path) -> AnnotatedReport:
    source = source_for(gold_path)
    if source is None:
        raise AnnotationError(f"{gold_path}: no source file beside it "
                              f"(looked for {', '.join(SOURCE_SUFFIXES)})")
    try:
        gold = json.loads(gold_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AnnotationError(f"{gold_path}: not valid JSON: {exc}") from exc
    try:
        text = read_source_text(source)
    except ExtractionError as exc:
        raise AnnotationError(f"{source}: cannot be read: {exc.detail}") from exc
    return AnnotatedReport(id=gold_path.name[: -len(GOLD_SUFFIX)], text=text, gold=gold,
                           path=source)


def load_corpus(*dirs: str | Path, split: str | None = None, check: bool = True) -> list[AnnotatedReport]:
    """Every annotated report under ``dirs`` (sorted by id), optionally one split only.

    With ``check`` (the default) every annotation is validated first: a bad one
    raises ``AnnotationError`` naming its file and field, rather than failing
    somewhere inside training or scoring with a message that names neither.
    """
    reports: list[AnnotatedReport] = []
    for d in dirs:
        d = Path(d)
        if not d.is_dir():
            raise AnnotationError(f"{d}: not a directory")
        for gold_path in sorted(d.rglob("*" + GOLD_SUFFIX)):
            report = load_report(gold_path)
            if check:
                problems = validate(report.gold, report.text, where=str(gold_path))
                if problems:
                    raise AnnotationError(_one_line(problems))
            reports.append(report)
    if split is not None:
        reports = [r for r in reports if r.split == split]
    return reports


def _one_line(problems: list[str]) -> str:
    """The first problem of an annotation, and how many more there are."""
    more = len(problems) - 1
    return problems[0] + (f" (and {more} more problem{'s' if more > 1 else ''}: "
                          "`govreport corpus check` lists them all)" if more else "")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_cell_value(value: object) -> bool:
    """A table cell's gold: a figure, null for a blank cell, or the raw text of a
    dash or 无 cell (what the table reader reports for such a cell)."""
    from service.tables.grid import GridCell, read_value

    if value is None or _is_number(value):
        return True
    if not isinstance(value, str):
        return False
    return read_value(GridCell(value, 0, len(value), "value")).reason in ("dash", "none_word")


def validate(gold: dict, text: str, where: str = "annotation") -> list[str]:
    """Every problem of one annotation, as messages naming ``where`` and the field."""
    problems: list[str] = []

    def bad(field_: str, what: str) -> None:
        problems.append(f"{where}: {field_}: {what}")

    if not isinstance(gold, dict):
        return [f"{where}: the annotation must be a JSON object"]
    for key in sorted(set(gold) - GOLD_KEYS):
        bad(key, "unknown top-level key")
    if "layout" in gold and gold["layout"] not in LAYOUTS:
        bad("layout", f"{gold['layout']!r} is not one of {', '.join(LAYOUTS)}")
    if "split" in gold and gold["split"] not in SPLITS:
        bad("split", f"{gold['split']!r} is not one of {', '.join(SPLITS)}")

    n = len(text)
    sections = gold.get("sections", [])
    if not isinstance(sections, list):
        bad("sections", "must be a list")
        sections = []
    for i, sec in enumerate(sections):
        f = f"sections[{i}]"
        if not isinstance(sec, dict):
            bad(f, "must be an object")
            continue
        for k in sorted(set(sec) - SECTION_FIELDS):
            bad(f"{f}.{k}", "unknown key")
        for k in sorted(SECTION_FIELDS - set(sec)):
            bad(f"{f}.{k}", "missing")
        if "key" in sec and sec["key"] not in SECTION_KEYS:
            bad(f"{f}.key", f"{sec.get('key')!r} is not a section key")
        start, end = sec.get("start"), sec.get("end")
        if not (_is_int(start) and _is_int(end) and 0 <= start <= end <= n):
            bad(f"{f}.start/end", f"[{start}, {end}] is outside the text (length {n})")
            continue
        heading = sec.get("heading", "")
        if not isinstance(heading, str):
            bad(f"{f}.heading", f"{heading!r} is not a string")
        elif heading and text[start:start + len(heading)] != heading:
            bad(f"{f}.heading", f"{heading!r} is not at offset {start} "
                                f"(the text there reads {text[start:start + len(heading)]!r})")
    keys = [s.get("key") for s in sections if isinstance(s, dict)]
    order = [k for k in SECTION_KEYS if k in keys]
    if keys != order:
        bad("sections", f"keys out of order or repeated: {keys}")

    tables = gold.get("tables", {})
    if not isinstance(tables, dict):
        bad("tables", "must be an object")
        tables = {}
    for table, rows in tables.items():
        if table not in TABLE_KEYS:
            bad(f"tables.{table}", "unknown table")
            continue
        if not isinstance(rows, dict):
            bad(f"tables.{table}", "must be an object of rows")
            continue
        known = all_cell_keys(table)
        known_rows = {r for r, _ in known}
        for row, cols in rows.items():
            if row not in known_rows:
                bad(f"tables.{table}.{row}", "unknown row")
                continue
            if not isinstance(cols, dict):
                bad(f"tables.{table}.{row}", "must be an object of columns")
                continue
            for col, value in cols.items():
                if (row, col) not in known:
                    bad(f"tables.{table}.{row}.{col}", "unknown column")
                elif not _is_cell_value(value):
                    bad(f"tables.{table}.{row}.{col}",
                        f"value {value!r} is not a number (nor null, a dash or 无 as printed)")

    metrics = gold.get("metrics", [])
    if not isinstance(metrics, list):
        bad("metrics", "must be a list")
        metrics = []
    for i, m in enumerate(metrics):
        f = f"metrics[{i}]"
        if not isinstance(m, dict):
            bad(f, "must be an object")
            continue
        for k in sorted(set(m) - METRIC_FIELDS):
            bad(f"{f}.{k}", "unknown key")
        for k in ("type", "value", "start", "end"):
            if k not in m:
                bad(f"{f}.{k}", "missing")
        if "type" in m and m["type"] not in METRIC_TYPES:
            bad(f"{f}.type", f"{m.get('type')!r} is not a metric type")
        if m.get("type") == "published_items" and m.get("channel") not in CHANNELS:
            bad(f"{f}.channel", f"{m.get('channel')!r} is not a channel")
        if "unit" in m and m["unit"] is not None and not isinstance(m["unit"], str):
            bad(f"{f}.unit", f"{m['unit']!r} is not a string")
        if "value" in m and not _is_number(m["value"]):
            bad(f"{f}.value", f"{m['value']!r} is not a number")
            continue
        start, end = m.get("start"), m.get("end")
        if not (_is_int(start) and _is_int(end) and 0 <= start < end <= n):
            bad(f"{f}.start/end", f"[{start}, {end}] is outside the text (length {n})")
            continue
        span = text[start:end]
        if "text" in m and m["text"] != span:
            bad(f"{f}.text", f"{m['text']!r} differs from the source at [{start}, {end}]: {span!r}")
        if "value" in m and not _span_states_value(span, m["value"]):
            bad(f"{f}.value", f"the span {span!r} does not contain the value {m.get('value')!r}")
    return problems


def _span_states_value(span: str, value: object) -> bool:
    """Whether a metric's evidence span states its value (in digits or Chinese numerals)."""
    from service.numbers import numbers_in

    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    # A figure written with 万 (0.12万元) may be annotated in the unit as written
    # (value 0.12, unit 万元) as well as in ones (1200).
    return any(abs(v - value) < 1e-9 or abs(v - value * 10_000) < 1e-6
               for v, _, _ in numbers_in(span))


def check_corpus(*dirs: str | Path) -> list[str]:
    """Validate every annotation under ``dirs``; return all problems found."""
    problems: list[str] = []
    for d in dirs:
        d = Path(d)
        if not d.is_dir():
            problems.append(f"{d}: not a directory")
            continue
        golds = sorted(d.rglob("*" + GOLD_SUFFIX))
        if not golds:
            problems.append(f"{d}: no annotated reports (*{GOLD_SUFFIX})")
        for gold_path in golds:
            try:
                report = load_report(gold_path)
            except AnnotationError as exc:
                problems.append(str(exc))
                continue
            problems.extend(validate(report.gold, report.text, where=str(gold_path)))
    return problems
