"""Per-format evaluation: the same report as TXT, GBK TXT, HTML, DOCX and PDF.

    python -m training.formats [tests/fixtures] [--corpus corpus] [--json]

For every report that has fixtures (``<id>.gbk.txt``, ``<id>.html``, ``<id>.docx``,
``<id>.pdf`` made by ``training.make_fixtures``) and a corpus entry, each format
is extracted with ``service.extract`` and compared

- with the TXT version: table cells (same value at the same table.row.column)
  and prose metrics (multiset of (type, channel, value));
- with the corpus gold: table cells scored by ``training.scoring.score_cells``,
  metrics by ``score_metrics`` (both by value, not offset: the derived texts differ).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from service.types import ExtractionError
from training.scoring import Counts, score_cells, score_metrics

ROOT = Path(__file__).resolve().parent.parent
FORMATS = {"txt": ".txt", "gbk": ".gbk.txt", "html": ".html", "docx": ".docx", "pdf": ".pdf"}


def _cells(extraction: dict) -> dict[str, object]:
    return {f"{t}.{r}.{c}": v for t, rows in (extraction.get("tables") or {}).items()
            for r, cols in rows.items() for c, v in cols.items()}


def _metric_keys(extraction: dict) -> Counter:
    out: Counter = Counter()
    for m in extraction.get("metrics") or []:
        value = m.get("value")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        out[(m.get("type"), m.get("channel") if m.get("type") == "published_items" else None, value)] += 1
    return out


def _agreement(pred: dict, ref: dict) -> dict:
    """How far one format's extraction agrees with the TXT one."""
    cells, ref_cells = _cells(pred), _cells(ref)
    same_cells = sum(1 for k, v in ref_cells.items() if k in cells and cells[k] == v)
    metrics, ref_metrics = _metric_keys(pred), _metric_keys(ref)
    same_metrics = sum((metrics & ref_metrics).values())
    return {
        "cells_same": same_cells, "cells_txt": len(ref_cells), "cells_here": len(cells),
        "cells_differ": sorted(k for k in set(cells) | set(ref_cells) if cells.get(k, "∅") != ref_cells.get(k, "∅")),
        "metrics_same": same_metrics, "metrics_txt": sum(ref_metrics.values()),
        "metrics_here": sum(metrics.values()),
        "metrics_only_txt": sorted(map(str, (ref_metrics - metrics).elements())),
        "metrics_only_here": sorted(map(str, (metrics - ref_metrics).elements())),
        "sections": [s["key"] for s in pred.get("sections", [])],
    }


def compare_formats(fixtures_dir: str | Path = ROOT / "tests" / "fixtures",
                    corpus_dir: str | Path = ROOT / "corpus", models=None) -> dict:
    """Extract every format of every fixture report; compare with TXT and with gold.

    Returns ``{"reports": {id: {format: {...}}}, "totals": {format: {...}}}``.
    """
    from service.pipeline import extract

    fixtures_dir, corpus_dir = Path(fixtures_dir), Path(corpus_dir)
    ids = sorted(p.name[: -len(".gbk.txt")] for p in fixtures_dir.glob("*.gbk.txt"))
    reports: dict[str, dict] = {}
    totals: dict[str, dict[str, Counts | int]] = {}
    for report_id in ids:
        gold_path = corpus_dir / f"{report_id}.gold.json"
        if not gold_path.exists():
            continue
        gold = json.loads(gold_path.read_text(encoding="utf-8"))
        paths = {fmt: (corpus_dir if fmt == "txt" else fixtures_dir) / f"{report_id}{suffix}"
                 for fmt, suffix in FORMATS.items()}
        results: dict[str, dict] = {}
        for fmt, path in paths.items():
            if not path.exists():
                continue
            try:
                results[fmt] = extract(path.read_bytes(), path.name, models=models)
            except ExtractionError as exc:
                results[fmt] = {"error": f"{exc.code}: {exc.detail}"}
        ref = results.get("txt", {})
        per_format: dict[str, dict] = {}
        for fmt, pred in results.items():
            if "error" in pred:
                per_format[fmt] = {"error": pred["error"]}
                continue
            cells = score_cells(gold, pred).counts
            metrics = score_metrics(gold, pred).counts
            entry = {"gold_cells": cells.as_dict(), "gold_metrics": metrics.as_dict(),
                     "format": pred.get("format")}
            if fmt != "txt" and "error" not in ref:
                entry["vs_txt"] = _agreement(pred, ref)
            per_format[fmt] = entry
            total = totals.setdefault(fmt, {"cells": Counts(), "metrics": Counts(), "errors": 0})
            total["cells"] += cells
            total["metrics"] += metrics
        for fmt, pred in results.items():
            if "error" in pred:
                totals.setdefault(fmt, {"cells": Counts(), "metrics": Counts(), "errors": 0})["errors"] += 1
        reports[report_id] = per_format
    return {"reports": reports,
            "totals": {fmt: {"cells": t["cells"].as_dict(), "metrics": t["metrics"].as_dict(),
                             "errors": t["errors"]} for fmt, t in totals.items()}}


def render(result: dict) -> str:
    lines = [f"{'format':<6} {'cells F1':>9} {'cells tp/fp/fn':>16} {'metrics F1':>11} {'metrics tp/fp/fn':>17} errors"]
    for fmt, t in result["totals"].items():
        c, m = t["cells"], t["metrics"]
        lines.append(f"{fmt:<6} {c['f1']:>9.4f} {c['tp']:>6}/{c['fp']}/{c['fn']:<6} {m['f1']:>11.4f} "
                     f"{m['tp']:>7}/{m['fp']}/{m['fn']:<6} {t['errors']}")
    for report_id, per_format in result["reports"].items():
        lines.append(f"\n{report_id}")
        for fmt, entry in per_format.items():
            if "error" in entry:
                lines.append(f"  {fmt:<5} ERROR {entry['error']}")
                continue
            vs = entry.get("vs_txt")
            agree = (f" vs txt: cells {vs['cells_same']}/{vs['cells_txt']} (here {vs['cells_here']}), "
                     f"metrics {vs['metrics_same']}/{vs['metrics_txt']} (here {vs['metrics_here']})"
                     if vs else "")
            lines.append(f"  {fmt:<5} gold cells F1 {entry['gold_cells']['f1']:.4f}, "
                         f"metrics F1 {entry['gold_metrics']['f1']:.4f};{agree}")
            if vs and (vs["cells_differ"] or vs["metrics_only_txt"] or vs["metrics_only_here"]):
                lines.append(f"        differ: cells {vs['cells_differ'][:6]} metrics only-txt "
                             f"{vs['metrics_only_txt'][:4]} only-here {vs['metrics_only_here'][:4]}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Compare extraction across input formats")
    parser.add_argument("fixtures", nargs="?", type=Path, default=ROOT / "tests" / "fixtures")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = compare_formats(args.fixtures, args.corpus)
    print(json.dumps(result, ensure_ascii=False, indent=1) if args.json else render(result))


if __name__ == "__main__":
    main()
