"""Fault injection for the consistency audit.

For each annotated report: extract it with the full pipeline, then change one
figure at a time in the SOURCE TEXT (+k) — every cell of tables 3 and 4 (at the
span the pipeline's provenance gives for it), the table 2 cells that a prose
metric mirrors, and every prose metric (at its gold span) — re-extract the
changed text with the full pipeline and check that every rule the change
breaks now fails.

Which rules a change breaks is computed from the gold and the change by
``rule_status``, an evaluator written independently of ``service.checks`` (plain
sums over the gold dicts): a rule is broken when it held on the gold and fails
once the changed figure is put in.  Only the reading of the text — which clause
states "no review/litigation" and which channel figures form a passage with a
published total — is shared with ``service.checks`` (``no_review_statements``,
``published_passages``, and how precise a written total is: ``total_tolerance``,
``is_approximate``), run on the gold sections and metrics, since the gold does
not annotate those.

``python -m training.faults [corpus dir] [--variants N] [--models DIR]`` prints the report.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from service.checks import (
    NARRATIVE_TARGETS,
    is_approximate,
    no_review_statements,
    published_passages,
    total_tolerance,
)
from service.numbers import numbers_in, parse_number
from service.template import (
    APPLICANT_COLUMNS,
    OTHER_HANDLING_2019,
    RESULT_ROWS_2019,
    RESULT_ROWS_2021,
    REVIEW_COLUMNS,
    REVIEW_GROUPS,
    table_schema,
)
from service.types import Extraction, ExtractionError, Metric, Section
from training.corpus import AnnotatedReport

RuleKey = tuple[str, str]  # (rule, scope)
Extractor = Callable[[str], Extraction]


# --- the independent oracle ---------------------------------------------------------


def _n(v) -> float | None:
    return None if isinstance(v, bool) or not isinstance(v, (int, float)) else float(v)


def _sum(values: list) -> float | None:
    nums = [_n(v) for v in values]
    return None if any(v is None for v in nums) else sum(nums)


def _eq(a: float | None, b: float | None) -> bool | None:
    return None if a is None or b is None else abs(a - b) < 1e-6


def _cell(tables: dict, table: str, row: str, col: str):
    return ((tables.get(table) or {}).get(row) or {}).get(col)


def rule_status(gold: dict, text: str) -> dict[RuleKey, bool | None]:
    """Every rule instance the gold allows, with whether it holds (None: not evaluable)."""
    tables, layout = gold.get("tables") or {}, gold.get("layout", "2021")
    status: dict[RuleKey, bool | None] = {}
    apps = tables.get("applications") or {}
    if apps:
        has_2019_row = OTHER_HANDLING_2019[0] in apps
        results = RESULT_ROWS_2019 if (layout == "2019" or has_2019_row) else RESULT_ROWS_2021

        def a(row: str, col: str):
            return _cell(tables, "applications", row, col)

        for col in APPLICANT_COLUMNS:
            status[("applications.balance", col)] = _eq(
                _sum([a("new_received", col), a("carried_over", col)]),
                _sum([a("results_total", col), a("carried_forward", col)]))
            status[("applications.results_total", col)] = _eq(
                _sum([a(r, col) for r in results]), _n(a("results_total", col)))
        for row in ("new_received", "carried_over", *results, "results_total", "carried_forward"):
            status[("applications.row_total", row)] = _eq(
                _sum([a(row, c) for c in APPLICANT_COLUMNS[:-1]]), _n(a(row, "total")))
    review = tables.get("review_litigation") or {}
    if review:
        for group in REVIEW_GROUPS:
            status[("review_litigation.group_total", group)] = _eq(
                _sum([_cell(tables, "review_litigation", group, c) for c in REVIEW_COLUMNS[:-1]]),
                _n(_cell(tables, "review_litigation", group, "total")))

    metrics = [Metric(**m) for m in gold.get("metrics") or []]
    for mtype, targets in NARRATIVE_TARGETS.items():
        mentions = [m for m in metrics if m.type == mtype]
        if not mentions:
            continue
        table, keys = targets.get(layout) or targets["*"]
        expected = _sum([_cell(tables, table, r, c) for r, c in keys])
        scope = "+".join(f"{r}.{c}" for r, c in keys)
        verdicts = []
        for m in mentions:
            ok = _eq(expected, float(m.value))
            if ok is False and mtype == "applications_received":
                carried = _n(_cell(tables, "applications", "carried_over", "total"))
                if carried:
                    ok = _eq(expected + carried, float(m.value))
            verdicts.append(ok)
        status[(f"narrative.{mtype}", scope)] = (
            False if False in verdicts else None if None in verdicts else True)

    sections = [Section(**s) for s in gold.get("sections") or []]
    search = [(s.start, s.end) for s in sections if s.key in ("overview", "review_litigation")]
    covered: set[str] = set()
    for start, end in search or [(0, len(text))]:
        for _, _, groups in no_review_statements(text, start, end):
            covered |= groups
    for group in covered:
        values = [_n(_cell(tables, "review_litigation", group, c)) for c in REVIEW_COLUMNS]
        if any(v for v in values if v is not None):
            status[("narrative.no_review_litigation", group)] = False
        else:
            status[("narrative.no_review_litigation", group)] = None if None in values else True

    for n, (total, parts) in enumerate(published_passages(metrics, text), start=1):
        if not parts:
            continue
        whole = float(total.value)
        slack = (0.0 if is_approximate(total) else total_tolerance(total)) + 1e-6
        running = [sum(m.value for m in parts[:i]) for i in range(1, len(parts) + 1)]
        if any(abs(r - whole) <= slack for r in running):
            verdict = True
        elif running[-1] > whole and not is_approximate(total):
            verdict = False
        else:
            verdict = None
        status[("narrative.published_total", f"all#{n}")] = verdict
    return status


# --- faults ----------------------------------------------------------------------------


@dataclass
class Fault:
    report: str
    target: str  # dotted cell key, or metrics.<type>@<start>
    old: float
    new: float
    span: tuple[int, int]
    breaks: set[RuleKey] = field(default_factory=set)  # rules that held and now fail
    undecidable: set[RuleKey] = field(default_factory=set)  # rules that held and now cannot be told
    flagged: set[RuleKey] = field(default_factory=set)
    other_failures: set[RuleKey] = field(default_factory=set)
    error: str = ""


def _changed_gold(gold: dict, target: str, new: float, metric_index: int | None) -> dict:
    changed = {**gold, "tables": {t: {r: dict(c) for r, c in rows.items()}
                                  for t, rows in (gold.get("tables") or {}).items()},
               "metrics": [dict(m) for m in gold.get("metrics") or []]}
    if metric_index is not None:
        changed["metrics"][metric_index]["value"] = new
    else:
        table, row, col = target.split(".")
        changed["tables"][table][row][col] = new
    return changed


def cell_targets(gold: dict, table3_per_row: int | None = None, offset: int = 0) -> list[str]:
    """Every table 3 and 4 cell of the gold, and the table 2 cells prose mirrors.

    ``table3_per_row`` keeps only that many table 3 cells per row, rotating the
    columns from row to row (starting at ``offset``) so every column is still hit:
    a quicker run that still touches every row and column.
    """
    layout = gold.get("layout", "2021")
    tables = gold.get("tables") or {}
    keys = []
    for table in ("applications", "review_litigation"):
        for i, (row, cols) in enumerate(table_schema(table, layout).items()):
            if table == "applications" and table3_per_row is not None:
                cols = [cols[(offset + i + j) % len(cols)] for j in range(min(table3_per_row, len(cols)))]
            for col in cols:
                if _n(_cell(tables, table, row, col)) is not None:
                    keys.append(f"{table}.{row}.{col}")
    stated = {m["type"] for m in gold.get("metrics") or []}
    for mtype, targets in NARRATIVE_TARGETS.items():
        table, cells = targets.get(layout) or targets["*"]
        if mtype in stated and table == "active_disclosure":
            keys += [f"{table}.{r}.{c}" for r, c in cells if _n(_cell(tables, table, r, c)) is not None]
    return keys


def _number_at(text: str, start: int, end: int, value: float) -> tuple[int, int] | None:
    """Where ``value`` is written inside text[start:end]."""
    for v, s, e in numbers_in(text[start:end]):
        if abs(v - value) < 1e-9:
            return start + s, start + e
    return None


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def pipeline_extractor(models=None) -> Extractor:
    """The full pipeline (ingest → segment → tables → metrics → checks) on a text."""
    from service import ingest
    from service.pipeline import Models, extract_document

    loaded = models or Models.load()

    def run(text: str) -> Extraction:
        return extract_document(ingest.read(text), loaded)

    return run


def _failing(extraction: Extraction) -> set[RuleKey]:
    return {(c.rule, c.scope) for c in extraction.checks if c.ok is False}


def inject_report(report: AnnotatedReport, extract: Extractor, ks: tuple[int, ...] = (1,),
                  table3_per_row: int | None = None) -> tuple[list[Fault], dict]:
    """All faults of one report, and what the unmodified report gave."""
    gold, text = report.gold, report.text
    base_status = rule_status(gold, text)
    summary = {"report": report.id, "origin": report.origin, "false_alarms": [], "real_inconsistencies": [],
               "not_injectable": [], "error": ""}
    summary["real_inconsistencies"] = sorted(k for k, v in base_status.items() if v is False)
    try:
        base = extract(text)
    except ExtractionError as exc:
        summary["error"] = f"{exc.code}: {exc.detail}"
        return [], summary
    base_failing = _failing(base)
    summary["false_alarms"] = sorted(k for k in base_failing if base_status.get(k) is not False)
    summary["inconsistencies_flagged"] = sorted(k for k in base_failing if base_status.get(k) is False)

    plans: list[tuple[str, float, tuple[int, int], int | None]] = []
    offset = sum(map(ord, report.id))
    for key in cell_targets(gold, table3_per_row, offset):
        # A variant's gold knows where each figure was rendered; a corpus report
        # relies on the pipeline's provenance.
        span = (gold.get("provenance") or {}).get(key) or base.provenance.get(key)
        table, row, col = key.split(".")
        value = _n(_cell(gold["tables"], table, row, col))
        if not span:
            summary["not_injectable"].append(f"{key}: no provenance")
            continue
        start, end = span
        read = parse_number(text[start:end])
        if read is None or _eq(float(read), value) is not True:
            summary["not_injectable"].append(
                f"{key}: provenance {start}-{end} reads {text[start:end]!r}, gold {_fmt(value)}")
            continue
        plans.append((key, value, (start, end), None))
    for i, m in enumerate(gold.get("metrics") or []):
        where = _number_at(text, m["start"], m["end"], m["value"])
        key = f"metrics.{m['type']}@{m['start']}"
        if where is None:
            summary["not_injectable"].append(f"{key}: value not found in its span")
            continue
        plans.append((key, float(m["value"]), where, i))

    faults: list[Fault] = []
    for key, value, (start, end), metric_index in plans:
        for k in ks:
            new = value + k
            fault = Fault(report=report.id, target=key, old=value, new=new, span=(start, end))
            after = rule_status(_changed_gold(gold, key, new, metric_index), text)
            fault.breaks = {r for r, ok in after.items() if ok is False and base_status.get(r) is True}
            fault.undecidable = {r for r, ok in after.items() if ok is None and base_status.get(r) is True}
            changed = text[:start] + _fmt(new) + text[end:]
            try:
                failing = _failing(extract(changed))
            except ExtractionError as exc:
                fault.error = f"{exc.code}: {exc.detail}"
                failing = set()
            fault.flagged = failing & fault.breaks
            fault.other_failures = failing - fault.breaks - base_failing
            faults.append(fault)
    return faults, summary


def with_layout_variants(reports: list[AnnotatedReport], per_report: int = 2, seed: int = 0
                         ) -> list[AnnotatedReport]:
    """The reports plus ``per_report`` layout-augmented variants of each (tab rows, one cell per
    line, markdown, the 2019 layout, blank and dash cells …), when that augmenter exists.

    Their tables keep the 勾稽关系; where a variant's randomised tables contradict the
    report's unchanged prose, the oracle sees it in the gold and does not count it as a
    false alarm.
    """
    try:
        from training.augment.tables import variants
    except ImportError:
        return list(reports)
    out = list(reports)
    for r in reports:
        if "tables" in r.gold and per_report > 0:
            out.extend(variants(r, random.Random(f"{seed}:{r.id}"), n=per_report))
    return out


def run_fault_injection(reports: list[AnnotatedReport], extract: Extractor | None = None,
                        ks: tuple[int, ...] = (1,), variants: int = 2, seed: int = 0,
                        table3_per_row: int | None = None) -> dict:
    """Inject every fault into every report (and ``variants`` layout variants of each) and
    score the audit; ``table3_per_row`` samples table 3 (see ``cell_targets``).

    Returns counts (faults injected, faults that break a rule, flagged by that
    rule, detection rate), false alarms on the unmodified reports, rules that
    failed after a change that should not have broken them, and the misses.
    """
    extract = extract or pipeline_extractor()
    reports = [r for r in reports if "tables" in r.gold]
    reports = with_layout_variants(reports, variants, seed)
    faults: list[Fault] = []
    per_report = []
    for report in reports:
        f, summary = inject_report(report, extract, ks, table3_per_row)
        faults.extend(f)
        per_report.append(summary)
    breaking = [f for f in faults if f.breaks]
    expected_flags = sum(len(f.breaks) for f in faults)
    flags = sum(len(f.flagged) for f in faults)
    by_rule: dict[str, Counter] = {}
    for f in faults:
        for rule, _ in f.breaks:
            by_rule.setdefault(rule, Counter())["breaks"] += 1
        for rule, _ in f.flagged:
            by_rule.setdefault(rule, Counter())["flagged"] += 1
    misses = [{"report": f.report, "target": f.target, "old": f.old, "new": f.new,
               "missed": sorted(f.breaks - f.flagged), "error": f.error}
              for f in faults if f.breaks - f.flagged]
    collateral = [{"report": f.report, "target": f.target, "old": f.old, "new": f.new,
                   "failed": sorted(f.other_failures)} for f in faults if f.other_failures]
    false_alarms = [{"report": s["report"], "failed": s["false_alarms"]}
                    for s in per_report if s["false_alarms"]]
    return {
        "reports": len(reports),
        "faults_injected": len(faults),
        "faults_breaking_a_rule": len(breaking),
        "faults_fully_flagged": sum(1 for f in breaking if f.flagged == f.breaks),
        "rule_breaks_expected": expected_flags,
        "rule_breaks_flagged": flags,
        "detection_rate": (flags / expected_flags) if expected_flags else 1.0,
        "faults_making_a_rule_undecidable": sum(1 for f in faults if f.undecidable),
        "faults_breaking_nothing": len(faults) - len(breaking),
        "false_alarms_unmodified": false_alarms,
        "false_alarm_reports": len(false_alarms),
        # Rules the gold itself breaks: real inconsistencies of a corpus report, or a
        # variant whose randomised tables contradict the prose it kept.
        "real_inconsistencies": [{"report": s["report"], "failed": s["real_inconsistencies"]}
                                 for s in per_report
                                 if s["real_inconsistencies"] and s["origin"] == "corpus"],
        "inconsistencies_in_gold": sum(len(s["real_inconsistencies"]) for s in per_report),
        "inconsistencies_flagged": sum(len(s["inconsistencies_flagged"]) for s in per_report),
        "variants_inconsistent_by_construction": sum(
            1 for s in per_report if s["real_inconsistencies"] and s["origin"] != "corpus"),
        "unexpected_failures_after_change": collateral,
        "not_injectable": [{"report": s["report"], "targets": s["not_injectable"]}
                           for s in per_report if s["not_injectable"]],
        "errors": [{"report": s["report"], "error": s["error"]} for s in per_report if s["error"]],
        "by_rule": {rule: dict(c) for rule, c in sorted(by_rule.items())},
        "misses": misses,
    }


def format_report(result: dict) -> str:
    lines = [
        f"reports: {result['reports']}",
        f"faults injected: {result['faults_injected']}",
        f"faults that break a rule: {result['faults_breaking_a_rule']} "
        f"(fully flagged: {result['faults_fully_flagged']})",
        f"rule breaks flagged by that rule: {result['rule_breaks_flagged']}/{result['rule_breaks_expected']}"
        f" = {100 * result['detection_rate']:.1f}%",
        f"faults that only make a rule undecidable: {result['faults_making_a_rule_undecidable']}",
        f"false alarms on unmodified reports: {result['false_alarm_reports']} report(s)",
        f"inconsistencies the unmodified gold holds, flagged: {result['inconsistencies_flagged']}/"
        f"{result['inconsistencies_in_gold']} (corpus reports: {len(result['real_inconsistencies'])}; "
        f"variants whose random tables contradict their prose: "
        f"{result['variants_inconsistent_by_construction']})",
        f"changes followed by an unexpected failure: {len(result['unexpected_failures_after_change'])}",
        f"cells not injectable: {sum(len(x['targets']) for x in result['not_injectable'])}",
    ]
    for rule, c in result["by_rule"].items():
        lines.append(f"  {rule}: {c.get('flagged', 0)}/{c.get('breaks', 0)}")
    for fa in result["false_alarms_unmodified"]:
        lines.append(f"  FALSE ALARM {fa['report']}: {fa['failed']}")
    for ri in result["real_inconsistencies"]:
        lines.append(f"  real inconsistency {ri['report']}: {ri['failed']}")
    for m in result["misses"][:20]:
        lines.append(f"  MISSED {m['report']} {m['target']} {_fmt(m['old'])}→{_fmt(m['new'])}: "
                     f"{m['missed']} {m['error']}")
    for c in result["unexpected_failures_after_change"][:20]:
        lines.append(f"  unexpected {c['report']} {c['target']} {_fmt(c['old'])}→{_fmt(c['new'])}: "
                     f"{c['failed']}")
    for e in result["errors"]:
        lines.append(f"  ERROR {e['report']}: {e['error']}")
    for n in result["not_injectable"]:
        lines.append(f"  not injectable {n['report']}: {n['targets'][:5]}"
                     + (f" (+{len(n['targets']) - 5})" if len(n["targets"]) > 5 else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - manual entry point
    import argparse
    import json

    from service.pipeline import Models
    from training.corpus import load_corpus

    ap = argparse.ArgumentParser(description="Fault injection for the consistency audit.")
    ap.add_argument("corpus", nargs="*", default=["corpus"])
    ap.add_argument("--models", default=None, help="Models directory (default: the shipped one)")
    ap.add_argument("--variants", type=int, default=2, help="Layout variants per report")
    ap.add_argument("--per-row", type=int, default=None, help="Sample table 3: cells per row")
    ap.add_argument("--json", default=None, help="Also write the full result here")
    args = ap.parse_args(argv)
    reports = load_corpus(*args.corpus)
    result = run_fault_injection(reports, pipeline_extractor(Models.load(args.models)),
                                 variants=args.variants, table3_per_row=args.per_row)
    print(format_report(result))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, ensure_ascii=False, indent=1, default=sorted)


if __name__ == "__main__":  # pragma: no cover
    main()
