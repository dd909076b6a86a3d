"""Augmenters re-render annotated reports in other styles while keeping gold exact.

Every augmenter works by text edits: it says which spans of the text to replace
with what, and ``apply_edits`` moves every gold offset (sections, metric spans)
accordingly.  An edit must not cut through a metric span or a section heading;
``apply_edits`` raises ``ValueError`` when one does, so a broken augmenter
cannot produce silently wrong gold.
"""

from __future__ import annotations

import copy
from dataclasses import replace

from training.corpus import AnnotatedReport

Edit = tuple[int, int, str]  # (start, end, replacement) in the original text


def apply_edits(report: AnnotatedReport, edits: list[Edit], suffix: str,
                origin: str, tags: list[str] | None = None,
                heading_updates: dict[str, str] | None = None) -> AnnotatedReport:
    """Return a new report with ``edits`` applied and all gold offsets moved.

    ``heading_updates`` maps a section key to its new heading text, for edits
    that rewrite a heading (the section then starts where the new heading does).
    """
    edits = sorted(edits)
    for (s1, e1, _), (s2, _, _) in zip(edits, edits[1:]):
        if s2 < e1:
            raise ValueError(f"overlapping edits at {s1}-{e1} and {s2}")
    text = report.text
    pieces, pos = [], 0
    for start, end, new in edits:
        pieces.append(text[pos:start])
        pieces.append(new)
        pos = end
    pieces.append(text[pos:])
    new_text = "".join(pieces)

    def move(offset: int, *, inside_ok: bool = False) -> int:
        shift = 0
        for start, end, new in edits:
            if end <= offset:
                shift += len(new) - (end - start)
            elif start < offset < end:
                if not inside_ok:
                    raise ValueError(f"edit {start}-{end} cuts through offset {offset}")
                return start + shift
            elif start >= offset:
                break
        return offset + shift

    gold = copy.deepcopy(report.gold)
    heading_updates = heading_updates or {}
    for sec in gold.get("sections", []):
        if sec["key"] in heading_updates:
            # The heading edit starts at the section start; it keeps its position.
            sec["start"] = move(sec["start"], inside_ok=True)
            sec["heading"] = heading_updates[sec["key"]]
        else:
            sec["start"] = move(sec["start"])
    secs = gold.get("sections", [])
    for a, b in zip(secs, secs[1:]):
        a["end"] = b["start"]
    if secs:
        secs[-1]["end"] = len(new_text)
    for m in gold.get("metrics", []):
        m["start"], m["end"] = move(m["start"]), move(m["end"])
        m["text"] = new_text[m["start"]:m["end"]]
    # Provenance of table cells is not part of the gold the corpus carries.
    gold.pop("provenance", None)
    return replace(report, id=f"{report.id}~{suffix}", text=new_text, gold=gold,
                   path=None, origin=origin, tags=list(tags or []))


def lost_layouts(report: AnnotatedReport) -> list[AnnotatedReport]:
    """The report in the shapes its text takes on its way to us: its layout lost
    (``shapes``) and its file passed through the tools users use (``tools``)."""
    from training.augment import shapes, tools

    return shapes.variants(report) + tools.variants(report)
