"""Scanned renders of the PDF fixtures, and how well OCR reads them.

    python -m training.scans [--out DIR] [--json] [--quick]

Every PDF fixture (``tests/fixtures/*.pdf``, made by ``training.make_fixtures`` from a
corpus report) is rendered to page images with pypdfium2 at 150 and 200 dpi, each
page turned by up to ±1° and moved by up to 2 mm, blurred slightly and saved as JPEG
of quality 60–75, the way a scanner and a web upload leave it.  The pages are assembled two ways: an
image-only PDF, and a set of PNG files.  The gold is the corpus report's.

Scored as ``training.formats`` scores other formats against gold: sections by key,
table cells and prose metrics by value (the derived texts differ).  With ``--inject``,
digits are painted over instead: five cells of tables 3 and 4 get another digit drawn
in place of theirs, and each must come out repaired to the printed value, flagged
(a cell flag, or a cell of a failed check) or left unknown, never silently wrong.

Nothing here is committed: the renders are made when asked (a test makes its own).
"""

from __future__ import annotations

import argparse
import io
import json
import random
from dataclasses import dataclass
from pathlib import Path

from training.scoring import Counts, score_cells, score_metrics

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
CORPUS = ROOT / "corpus"


@dataclass
class ScanVariant:
    """One scanned render of a fixture: ``pages`` are JPEG-degraded page images as PNG
    bytes, ``pdf`` the same pages as an image-only PDF."""

    report_id: str
    dpi: int
    pages: list[bytes]
    pdf: bytes


def degraded_pages(pdf_bytes: bytes, dpi: int, rng: random.Random):
    """The PDF's pages as PIL images, each turned, blurred and JPEG-compressed."""
    import pypdfium2
    from PIL import Image, ImageFilter

    pdf = pypdfium2.PdfDocument(pdf_bytes)
    try:
        for index in range(len(pdf)):
            image = pdf[index].render(scale=dpi / 72).to_pil().convert("L")
            # turned, and moved on the glass by up to 2 mm each way, as a page is scanned
            shift = dpi * 2 / 25.4
            image = image.rotate(rng.uniform(-1.0, 1.0), resample=Image.BICUBIC, expand=False, fillcolor=255,
                                 translate=(rng.uniform(-shift, shift), rng.uniform(-shift, shift)))
            image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.7)))
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=rng.randint(60, 75))
            yield Image.open(io.BytesIO(buffer.getvalue()))
    finally:
        pdf.close()


def render_variant(pdf_bytes: bytes, report_id: str, dpi: int, seed: int = 0) -> ScanVariant:
    images = list(degraded_pages(pdf_bytes, dpi, random.Random(f"{report_id}:{dpi}:{seed}")))
    pages = []
    for image in images:
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        pages.append(buffer.getvalue())
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", save_all=True, append_images=images[1:], resolution=dpi)
    return ScanVariant(report_id, dpi, pages, buffer.getvalue())


def variants(fixtures: Path = FIXTURES, dpis: tuple[int, ...] = (150, 200), limit: int | None = None):
    paths = sorted(fixtures.glob("*.pdf"))[:limit]
    for path in paths:
        for dpi in dpis:
            yield render_variant(path.read_bytes(), path.stem, dpi)


def section_keys(extraction: dict) -> set[str]:
    return {s["key"] for s in extraction.get("sections", []) if s["key"] != "preamble"}


def score(gold: dict, pred: dict) -> dict[str, Counts]:
    gold_keys, pred_keys = section_keys(gold), section_keys(pred)
    sections = Counts(tp=len(gold_keys & pred_keys), fp=len(pred_keys - gold_keys), fn=len(gold_keys - pred_keys))
    return {"sections": sections, "cells": score_cells(gold, pred).counts,
            "metrics": score_metrics(gold, pred).counts}


def evaluate(fixtures: Path = FIXTURES, corpus: Path = CORPUS, limit: int | None = None,
             out: Path | None = None) -> dict:
    """Score every scanned render against its gold; errors listed per variant."""
    from service.pipeline import extract
    from training.scoring import score_report

    totals = {task: Counts() for task in ("sections", "cells", "metrics")}
    per_variant = {}
    for variant in variants(fixtures, limit=limit):
        gold = json.loads((corpus / f"{variant.report_id}.gold.json").read_text(encoding="utf-8"))
        for shape, source in (("pdf", variant.pdf), ("png", variant.pages)):
            name = f"{variant.report_id}@{variant.dpi}dpi.{shape}"
            if out:
                out.mkdir(parents=True, exist_ok=True)
                if shape == "pdf":
                    (out / f"{name}").write_bytes(source)
            pred = extract(source, include_text=True)
            scores = score(gold, pred)
            for task, counts in scores.items():
                totals[task] += counts
            details = score_report(gold, pred)
            per_variant[name] = {
                **{task: c.as_dict() for task, c in scores.items()},
                "errors": details["cells"].errors[:20] + details["metrics"].errors[:10],
                "flags": [f for f in pred.get("cell_flags", []) if f["reason"] in ("low_confidence", "ocr_repaired")],
            }
    return {"totals": {task: c.as_dict() for task, c in totals.items()}, "variants": per_variant}


#: Digits painted over per scanned report: one a row and a column apart in table 3, one in table 4.
INJECTED_CELLS = ("applications.new_received.natural_person", "applications.granted.commercial",
                  "applications.denied_state_secret.research", "applications.carried_forward.total",
                  "review_litigation.review.total")


def painted_over(pages: list[bytes], locations: dict, keys=INJECTED_CELLS) -> tuple[list[bytes], dict]:
    """The page images with one digit of each cell in ``keys`` painted over by another
    (drawn, not typed: the recogniser reads it as printed), and {cell: painted value}."""
    import cv2
    import numpy as np
    from PIL import Image

    images: dict[int, np.ndarray] = {}
    painted = {}
    for n, key in enumerate(keys):
        location = locations.get(key)
        if not location:
            continue
        index = location["page"] - 1
        if index not in images:
            images[index] = np.array(Image.open(io.BytesIO(pages[index])).convert("L"))
        page = images[index]
        x0, top, x1, bottom = (int(round(v)) for v in location["bbox"])
        digit = str((n * 3 + 7) % 10 or 4)
        page[top:bottom, x0:x1] = 255
        scale = (bottom - top) / 34
        cv2.putText(page, digit, (x0, bottom - max(2, (bottom - top) // 6)), cv2.FONT_HERSHEY_SIMPLEX,
                    scale, 0, max(1, round(2 * scale)), cv2.LINE_AA)
        painted[key] = int(digit)
    out = list(pages)
    for index, page in images.items():
        buffer = io.BytesIO()
        Image.fromarray(page).save(buffer, "PNG")
        out[index] = buffer.getvalue()
    return out, painted


def injected_digits(variant: ScanVariant, gold: dict) -> dict:
    """Paint digits over in a scan's page images; each must come out repaired to the
    printed value or flagged (a cell flag, or among the cells of a failed check)."""
    from service.pipeline import extract

    clean = extract(variant.pages)
    pages, painted = painted_over(variant.pages, clean["locations"])
    result = extract(pages)
    flagged = ({f["cell"] for f in result["cell_flags"]}
               | {c for check in result["checks"] if check["ok"] is False for c in check["cells"]})
    outcome = {}
    for key, digit in painted.items():
        table, row, col = key.split(".")
        value = result["tables"].get(table, {}).get(row, {}).get(col)
        printed = gold["tables"][table][row][col]
        if value == printed and digit != printed:
            outcome[key] = "repaired"
        elif key in flagged:
            outcome[key] = "flagged"
        elif value == printed:
            outcome[key] = "unchanged"  # the painted digit was the printed one
        elif value is None:
            outcome[key] = "left unknown"  # not read: a gap, never a wrong figure
        else:
            outcome[key] = f"SILENTLY WRONG: {value!r} (printed {printed!r}, painted {digit})"
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Score OCR on scanned renders of the PDF fixtures")
    parser.add_argument("--out", type=Path, help="also write the image-only PDFs here")
    parser.add_argument("--limit", type=int, help="only the first N fixtures")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--inject", action="store_true",
                        help="instead: paint digits over in the scans' table cells and report each outcome")
    args = parser.parse_args(argv)
    if args.inject:
        outcomes = {}
        for variant in variants(limit=args.limit):
            gold = json.loads((CORPUS / f"{variant.report_id}.gold.json").read_text(encoding="utf-8"))
            outcomes[f"{variant.report_id}@{variant.dpi}dpi"] = injected_digits(variant, gold)
        print(json.dumps(outcomes, ensure_ascii=False, indent=1))
        silent = [k for o in outcomes.values() for k, v in o.items() if v.startswith("SILENTLY")]
        return 1 if silent else 0
    result = evaluate(limit=args.limit, out=args.out)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
        return 0
    for task, c in result["totals"].items():
        print(f"{task:<9} F1 {c['f1']:.4f}  tp {c['tp']} fp {c['fp']} fn {c['fn']}")
    for name, v in result["variants"].items():
        print(f"\n{name}: sections {v['sections']['f1']:.3f} cells {v['cells']['f1']:.3f} "
              f"metrics {v['metrics']['f1']:.3f}")
        for e in v["errors"]:
            print(f"   {e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
