"""Heading-style variants of an annotated report, with exact gold.

Real reports number and word their six section headings every way; this
re-renders a report's headings in other styles so the section model sees them
in training and so robustness can be measured on held-out variants:

- numbering systems: ``一、`` ``1、`` ``1.`` ``1．`` ``（一）`` ``(一)`` ``第一部分``
  ``第一章`` ``Ⅰ、`` …, a space after the number or not, systems mixed in one report
  (never the system the report's overview uses for its sub-sections: no real
  report numbers ``（二）主动公开…`` under ``（一）总体情况`` with ``（一）…（五）`` inside);
- bare headings (no number), long/short wordings (``SECTION_VARIANTS``), misnumbering;
- indentation (spaces, tabs, full-width spaces), markdown ``#`` marks and ``**bold**``
  (the heading then starts at the ``**``: only indentation and ``#`` are skipped);
- a heading split over two lines — the gold ``heading`` is then its FIRST line
  (``text[start:start+len(heading)] == heading`` still holds; the second line
  belongs to the section as body text);
- a body sentence that names a section (``全年无涉及政府信息公开行政复议、行政诉讼``);
- a whole section removed (its text, its gold section, the metrics inside it,
  and its table when it is one of the table sections).

Every variant goes through ``apply_edits``, which moves every gold offset, and
is then checked: each section's heading must sit at its start, preceded on its
line only by indentation or ``#`` marks.  (A source report whose gold heading is
itself split over two lines would keep its orphan second line; the corpus has none.)
"""

from __future__ import annotations

import copy
import random
from dataclasses import replace

from service.segment import HEADING_KEYS, parse_numbering, split_numbering
from service.template import SECTION_TITLES, SECTION_VARIANTS, TABLE_KEYS
from training.augment import Edit, apply_edits
from training.corpus import AnnotatedReport

ORIGIN = "augment:headings"
_CN = "零一二三四五六七八九十"
_ROMAN = "0ⅠⅡⅢⅣⅤⅥⅦⅧⅨⅩ"


def _cn(n: int) -> str:
    return _CN[n] if 0 <= n <= 10 else f"十{_CN[n - 10]}"


#: Numbering systems: section number -> prefix.
SYSTEMS = {
    "cn": lambda n: f"{_cn(n)}、",
    "cn_space": lambda n: f"{_cn(n)}、 ",
    "cn_dot": lambda n: f"{_cn(n)}．",
    "arabic": lambda n: f"{n}、",
    "arabic_space": lambda n: f"{n}、 ",
    "arabic_dot": lambda n: f"{n}.",
    "arabic_dot_space": lambda n: f"{n}. ",
    "arabic_fw_dot": lambda n: f"{n}．",
    "paren_cn": lambda n: f"（{_cn(n)}）",
    "paren_cn_ascii": lambda n: f"({_cn(n)})",
    "part": lambda n: f"第{_cn(n)}部分 ",
    "part_dun": lambda n: f"第{_cn(n)}部分、",
    "chapter": lambda n: f"第{_cn(n)}章 ",
    "roman": lambda n: f"{_ROMAN[n] if n < len(_ROMAN) else n}、",
    "cn_tab": lambda n: f"{_cn(n)}、\t",
}
INDENTS = ("  ", "    ", "\t", "\t\t", "\u3000\u3000", " ")
MARKDOWN = ("# ", "## ", "### ", "#")

#: Sentences that name a section without being its heading; ``{t}`` is a title.
MENTIONS = (
    "全年无涉及{t}",
    "全年无涉及{t}。",
    "本机关{t}详见下表。",
    "关于{t}，具体如下：",
    "{t}见下表",
    "{t}统计如下：",
    "本年度{t}总体平稳。",
    "本单位认真梳理{t}",
    "以下为{t}",
    "现将{t}报告如下：",
    "（注：{t}按统计口径填报）",
)

#: The style families; each variant leads with one and may mix in others.
STYLES = ("numbering", "bare", "indent", "markdown", "split", "wording", "misnumber",
          "mention", "drop")


def variants(report: AnnotatedReport, rng: random.Random, n: int = 6) -> list[AnnotatedReport]:
    """``n`` heading-style variants of ``report`` (fewer if it has no sections)."""
    sections = [s for s in report.gold.get("sections", []) if s.get("key") in HEADING_KEYS]
    if not sections:
        return []
    out: list[AnnotatedReport] = []
    first = rng.randrange(len(STYLES))
    for i in range(n):
        lead = STYLES[(first + i) % len(STYLES)]
        styles = {lead} | {s for s in STYLES if s != lead and rng.random() < 0.15}
        try:
            out.append(render(report, rng, styles, suffix=f"h{i}-{lead}"))
        except ValueError:
            # An edit would cut through a metric span; retry with the lead style only.
            try:
                out.append(render(report, rng, {lead}, suffix=f"h{i}-{lead}"))
            except ValueError:
                continue
    return out


#: The numbering family (``service.segment.parse_numbering``) of each system.
_FAMILY = {name: parse_numbering(f(1) + "总体情况").system for name, f in SYSTEMS.items()}


def _subsection_families(text: str, secs: list[dict]) -> set[str]:
    """Numbering families used by lines inside the overview (its sub-sections)."""
    overview = next((s for s in secs if s["key"] == "overview"), None)
    if overview is None:
        return set()
    body = text[overview["start"]:overview["end"]].split("\n")[1:]
    return {parse_numbering(line.strip()).system for line in body} - {"none"}


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _inside_metric(report: AnnotatedReport, pos: int) -> bool:
    return any(m["start"] < pos < m["end"] for m in report.gold.get("metrics", []))


def render(report: AnnotatedReport, rng: random.Random, styles: set[str],
           suffix: str) -> AnnotatedReport:
    """One variant of ``report`` in the given style families."""
    text = report.text
    secs = [s for s in report.gold["sections"] if s["key"] in HEADING_KEYS]
    tags = sorted(styles)

    # 1. which section to drop (keeping at least three)
    dropped: dict | None = None
    if "drop" in styles and len(secs) > 3:
        dropped = rng.choice(secs)
    kept = [s for s in secs if s is not dropped]
    renumber = dropped is not None and rng.random() < 0.5

    # 2. the doc-level look; no report numbers its sections like the sub-sections
    # of its overview (（一）… under （一）总体情况), so such systems are left out
    taken = _subsection_families(text, secs)
    usable = [s for s in SYSTEMS if _FAMILY[s] not in taken] or ["cn"]
    if "numbering" in styles:
        system = rng.choice([s for s in usable if s != "cn"] or usable)
    else:
        system = rng.choice([s for s in ("cn", "cn", "cn", "arabic", "arabic_dot") if s in usable]
                            or usable)
    indent = rng.choice(INDENTS) if "indent" in styles else ""
    indent_all = rng.random() < 0.6
    mark = rng.choice(MARKDOWN) if "markdown" in styles else ""
    bold = "markdown" in styles and rng.random() < 0.3  # **二、…** (with or without '#')
    all_bare = "bare" in styles and rng.random() < 0.4
    misnumbered = rng.choice(kept[1:]) if "misnumber" in styles and len(kept) > 1 else None
    to_split = set()
    if "split" in styles:
        to_split = {id(s) for s in rng.sample(kept, min(len(kept), rng.choice((1, 1, 2, 3))))}

    edits: list[Edit] = []
    updates: dict[str, str] = {}
    for pos, sec in enumerate(kept):
        key = sec["key"]
        number = pos + 1 if renumber else HEADING_KEYS.index(key) + 1
        if sec is misnumbered:
            number = max(1, number + rng.choice((-1, -1, 1, 2)))
        _, title = split_numbering(sec["heading"])
        if not title:
            title = SECTION_TITLES[key]
        if "wording" in styles and rng.random() < 0.7:
            title = rng.choice(SECTION_VARIANTS.get(key, (SECTION_TITLES[key],)))
        sys_here = system
        if "misnumber" in styles and rng.random() < 0.15:
            sys_here = rng.choice(usable)  # a stray heading in another system
        bare = all_bare or ("bare" in styles and rng.random() < 0.4)
        prefix = "" if bare else SYSTEMS[sys_here](number)
        close = ""
        if bold:
            prefix, close = "**" + prefix, "**"
        new_heading = prefix + title + close
        first_line = new_heading
        if id(sec) in to_split and len(title) >= 4:
            cut = rng.randint(2, len(title) - 2)
            new_heading = prefix + title[:cut] + "\n" + title[cut:] + close
            first_line = prefix + title[:cut]
        start = sec["start"]
        line_start = _line_start(text, start)
        lead = (indent if indent_all or rng.random() < 0.5 else "") + mark
        edits.append((line_start, start, lead))
        edits.append((start, start + len(sec["heading"]), new_heading))
        updates[key] = first_line.rstrip()

    gold_changes: dict = {}
    if dropped is not None:
        i = secs.index(dropped)
        begin = _line_start(text, dropped["start"])
        stop = _line_start(text, secs[i + 1]["start"]) if i + 1 < len(secs) else len(text)
        edits.append((begin, stop, ""))
        gold_changes = {"drop": dropped["key"], "begin": begin, "stop": stop}

    if "mention" in styles:
        edits.extend(_mention_edits(report, rng, secs, kept, dropped))

    source = report
    if gold_changes:
        gold = copy.deepcopy(report.gold)
        begin, stop = gold_changes["begin"], gold_changes["stop"]
        gold["sections"] = [s for s in gold["sections"] if s["key"] != gold_changes["drop"]]
        gold["metrics"] = [m for m in gold.get("metrics", [])
                           if m["end"] <= begin or m["start"] >= stop]
        if gold_changes["drop"] in TABLE_KEYS and "tables" in gold:
            gold["tables"].pop(gold_changes["drop"], None)
        gold.pop("checks", None)
        source = replace(report, gold=gold)
    variant = apply_edits(source, edits, suffix=suffix, origin=ORIGIN, tags=tags,
                          heading_updates=updates)
    check_headings(variant)
    return variant


def _mention_edits(report: AnnotatedReport, rng: random.Random, secs: list[dict],
                   kept: list[dict], dropped: dict | None) -> list[Edit]:
    """Insert one or two lines that name a section into some section's body."""
    text = report.text
    edits: list[Edit] = []
    for _ in range(rng.choice((1, 1, 2))):
        host = rng.choice(kept)
        named = rng.choice(HEADING_KEYS)
        title = rng.choice(SECTION_VARIANTS.get(named, (SECTION_TITLES[named],)))
        sentence = rng.choice(MENTIONS).format(t=title)
        if rng.random() < 0.5:
            # right after the host's heading line
            nl = text.find("\n", host["start"] + len(host["heading"]))
            if nl < 0:
                continue
            pos, new = nl + 1, sentence + "\n"
        else:
            # at the end of the host's body, before the next heading's line
            i = secs.index(host)
            if i + 1 < len(secs):
                pos = _line_start(text, secs[i + 1]["start"]) - 1
                if pos <= host["start"] + len(host["heading"]):
                    continue
                new = "\n" + sentence
            else:
                pos, new = len(text), "\n" + sentence
        if dropped is not None and _line_start(text, dropped["start"]) <= pos:
            nxt = secs.index(dropped) + 1
            stop = _line_start(text, secs[nxt]["start"]) if nxt < len(secs) else len(text)
            if pos < stop:
                continue
        line_starts = {_line_start(text, s["start"]) for s in secs}
        if _inside_metric(report, pos) or pos in line_starts or any(e[0] == pos for e in edits):
            continue
        edits.append((pos, pos, new))
    return edits


def check_headings(report: AnnotatedReport) -> None:
    """Raise ``ValueError`` unless every section heading sits exactly at its start."""
    text = report.text
    for sec in report.gold.get("sections", []):
        if sec["key"] == "preamble":
            continue
        start, heading = sec["start"], sec["heading"]
        if text[start:start + len(heading)] != heading:
            raise ValueError(f"{report.id}: heading {heading!r} not at {start}")
        before = text[_line_start(text, start):start]
        if before.strip(" \t\u3000#"):
            raise ValueError(f"{report.id}: {before!r} precedes heading {heading!r}")
        if heading != heading.strip() or "\n" in heading:
            raise ValueError(f"{report.id}: heading {heading!r} is not one trimmed line")
