"""Real reports' web pages printed to PDF by Chromium, read from the text layer and as
scans: PDFs made by another tool than ours, from pages nobody laid out for print.

    python -m training.printed [--real ../shared/real] [--dpi 200]

For every ``<id>.html`` under ``<real>/sources`` with a ``<real>/<id>.gold.json``,
Debian's headless ``chromium`` prints the page to PDF (in a temporary folder; nothing
is kept), which is read twice: as it is (its text layer) and scanned
(``training.scans.render_variant``: rendered, turned, blurred, JPEG).  Scored against
the gold by value, as ``training.scans`` scores.  Chromium clips a table wider than the
page, so a column the print does not show is missed by both readings alike.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "real"


def print_to_pdf(html: Path, out: Path) -> bytes:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        raise SystemExit("chromium is not installed (apt-get install -y chromium)")
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                    f"--print-to-pdf={out}", str(html)], check=True, timeout=180,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out.read_bytes()


def evaluate(real: Path = REAL, dpi: int = 200) -> dict:
    from service.pipeline import extract
    from training.scans import render_variant, score

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for html in sorted((real / "sources").glob("*.html")):
            gold_path = real / f"{html.stem}.gold.json"
            if not gold_path.exists():
                continue
            gold = json.loads(gold_path.read_text(encoding="utf-8"))
            data = print_to_pdf(html, Path(tmp) / f"{html.stem}.pdf")
            scanned = render_variant(data, html.stem, dpi).pdf
            results[html.stem] = {
                reading: {task: c.as_dict() for task, c in score(gold, extract(source)).items()}
                for reading, source in (("text layer", data), (f"scan {dpi} dpi", scanned))}
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Score real web pages printed to PDF by Chromium")
    parser.add_argument("--real", type=Path, default=REAL)
    parser.add_argument("--dpi", type=int, default=200)
    args = parser.parse_args(argv)
    if not (args.real / "sources").is_dir():
        raise SystemExit(f"{args.real}/sources not found (the real reports are not part of the checkout)")
    for report, readings in evaluate(args.real, args.dpi).items():
        for reading, scores in readings.items():
            print(f"{report:<10} {reading:<12} " + "  ".join(
                f"{task} F1 {s['f1']:.3f} ({s['tp']}/{s['fp']}/{s['fn']})" for task, s in scores.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
