"""Did a change alter any output?  ``extract()`` over the corpus, its augmented
variants and every test fixture, saved once and compared after a change.

For speed work, where every output must stay byte for byte the same::

    python -m training.snapshot save /tmp/before.json   # before the change
    python -m training.snapshot check /tmp/before.json  # after: lists what differs, exit 1 if any
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_SUFFIXES = {".txt", ".html", ".htm", ".docx", ".pdf"}


def inputs() -> dict[str, tuple[str | bytes, str | None]]:
    """Every input by a stable name: bench texts, corpus reports, fixtures (files and bad ones)."""
    from training.bench import bench_texts
    from training.corpus import load_corpus

    items: dict[str, tuple[str | bytes, str | None]] = {}
    for i, text in enumerate(bench_texts()):
        items[f"bench{i}"] = (text, None)
    for report in load_corpus(ROOT / "corpus"):
        items[report.id] = (report.text, None)
    for path in sorted((ROOT / "tests" / "fixtures").rglob("*")):
        if path.is_file() and path.suffix in FIXTURE_SUFFIXES:
            items["fixture:" + str(path.relative_to(ROOT / "tests" / "fixtures"))] = (
                path.read_bytes(), path.name)
    return items


def outputs() -> dict[str, str]:
    """The canonical JSON of each input's extraction, or its error code."""
    from service.pipeline import extract, get_models
    from service.types import ExtractionError

    models = get_models()
    out = {}
    for name, (source, filename) in inputs().items():
        try:
            out[name] = json.dumps(extract(source, filename=filename, models=models),
                                   ensure_ascii=False, sort_keys=True)
        except ExtractionError as exc:
            out[name] = f"error: {exc.code}"
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("save", "check"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    command, path = argv[0], Path(argv[1])
    current = outputs()
    if command == "save":
        path.write_text(json.dumps(current, ensure_ascii=False), encoding="utf-8")
        print(f"saved {len(current)} outputs to {path}")
        return 0
    if not path.exists():
        print(f"snapshot: {path}: no saved outputs (run `save` first)", file=sys.stderr)
        return 2
    saved = json.loads(path.read_text(encoding="utf-8"))
    differ = sorted(k for k in saved.keys() | current.keys() if saved.get(k) != current.get(k))
    print(f"{len(saved)} saved outputs, {len(differ)} differ" + (": " + ", ".join(differ[:30]) if differ else ""))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
