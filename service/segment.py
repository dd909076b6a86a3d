"""Section segmentation: which lines are the six section headings.

Every line that could be a heading is described by features (its numbering,
its similarity to the known wordings of each section title, its length and
punctuation, its indentation, its neighbours and its position in the text).
A multinomial logistic regression trained on the annotated corpus (plus
heading-style variants of it, see ``training/augment/headings.py``) turns them
into P(section k | line) for k in the six keys and ``none``.  The whole
document is then decoded at once: the chosen headings must follow the report
order, each section at most once, any of them possibly absent, and the choice
maximises the summed log-odds of "heading of k" against "not a heading", plus a
presence bonus per section (the prior that a report has it), which training
tunes on held-out reports.

Features that look at the whole document: the running order (do the lines
that read strongly like other sections' wordings come before or after this
one as the report order wants, and share its numbering system?) and the
number sequence (is the previous line numbered in the same system one less?).

Rules only produce features (and a cheap filter that leaves out lines that
cannot be headings: long paragraphs, table rows with several cells or a
figure); what counts as a heading is learned, so a new wording is handled by
annotating an example, not by writing code.

A heading's ``start`` is its first character after indentation and markdown
``#`` marks (markdown ``**bold**`` is kept: the heading starts at the ``**``);
``heading`` is the text from there to the end of that line.  A
heading split over two lines keeps its first line as ``heading`` (the second
line is still inside the section, which runs to the next heading's start).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate, chain, repeat
from pathlib import Path
from typing import NamedTuple

import numpy as np
from rapidfuzz.distance import LCSseq
from rapidfuzz.process import cdist

from service import modelstore
from service.numbers import chinese_to_int, fold
from service.template import SECTION_KEYS, SECTION_TITLES, SECTION_VARIANTS
from service.types import Document, Section

MODEL_FILE = "sections.json.gz"
#: Bumped whenever the features change: a model trained on other features is refused.
FEATURE_VERSION = 6
NONE = "none"
#: The numbered sections in report order (preamble excluded).
HEADING_KEYS: tuple[str, ...] = tuple(k for k in SECTION_KEYS if k != "preamble")

# --- lines and candidates ---------------------------------------------------------

#: What may stand before a heading on its line: indentation, markdown '#', a BOM.
_LEAD = re.compile(r"[\s#\ufeff]*")
_TWO_CJK = re.compile(r"[\u4e00-\u9fff][^\u4e00-\u9fff]*[\u4e00-\u9fff]")
# \d also matches full-width digits.
_NUMERIC_CELL = re.compile(r"[\d.,%\s，．]+|[/\-—–－无]")
_FIGURE_CELL = re.compile(r"\t[ \u3000]*[\d.,%，．]+[ \u3000]*(?:\t|$)")  # a table row holding a figure
#: Longest line (after the lead) still considered as a possible heading.
MAX_HEADING_CHARS = 60
_SENTENCE_END = "。；;！!？?"
#: A line of 2 to 100 characters holding two Chinese characters: the only lines
#: worth a closer look (a heading is at most MAX_HEADING_CHARS after its lead).
_SHORT_CJK = r"(?=[^\n]{2,100}$)[^\n\u4e00-\u9fff]*[\u4e00-\u9fff][^\n\u4e00-\u9fff]*[\u4e00-\u9fff]"
_SHORT_CJK_FIRST_LINE = re.compile(_SHORT_CJK, re.M)
#: Such a line after a line break: searched from the break, which the regex engine
#: scans for quickly (a pattern anchored with ^ is tried at every character).
_SHORT_CJK_LINE_AFTER_BREAK = re.compile("\n" + _SHORT_CJK, re.M)
_DIGIT = re.compile(r"[0-9０-９]")
_QUOTE = re.compile(r"[《》“”\"]")
_PAREN = re.compile(r"[（）()]")
_INNER_PUNCT = re.compile(r"[，,。；;！？]")
_COMMAS = "，,、"


_WS = " \t\r\u3000\xa0\ufeff\f\v"


def _content_span(raw: str) -> tuple[int, int]:
    """(lead, end) of a line: where its text starts after the lead (indentation,
    markdown '#', a BOM) and where it ends (its last non-space character)."""
    end = len(raw.rstrip())
    return (min(_LEAD.match(raw).end(), end) if end else 0), end


def is_candidate(s: str) -> bool:
    """Whether a line (lead removed) could be a heading at all.

    Leaves out what no report prints as a heading: long paragraphs, lines with
    fewer than two Chinese characters, table rows of several cells or holding a
    figure.  Everything else goes to the model.
    """
    if not 2 <= len(s) <= MAX_HEADING_CHARS or not _TWO_CJK.search(s):
        return False
    return "\t" not in s or _cells_ok(s)


def _cells_ok(s: str) -> bool:
    """A line with tabs: one cell, or "number<tab>title" (word processors put a
    tab after numbering); never several cells or a figure (a table row)."""
    if _FIGURE_CELL.search(s):
        return False
    cells = [c for c in s.split("\t") if c and not c.isspace()]
    if len(cells) > 2 or any(_NUMERIC_CELL.fullmatch(c.strip()) for c in cells):
        return False
    return len(cells) == 1 or len(cells[0].strip()) <= 6


# --- numbering ----------------------------------------------------------------------

_CN = "一二三四五六七八九十"
_ROMAN = {"Ⅰ": 1, "Ⅱ": 2, "Ⅲ": 3, "Ⅳ": 4, "Ⅴ": 5, "Ⅵ": 6, "Ⅶ": 7, "Ⅷ": 8, "Ⅸ": 9, "Ⅹ": 10,
          "I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8}
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩"
# Patterns run on folded text (full-width punctuation as ASCII, same offsets).
_NUMBERINGS: tuple[tuple[str, re.Pattern], ...] = (
    ("part", re.compile(rf"第\s*([{_CN}]+|\d+)\s*(部分|章|节|篇|项)\s*([、,.:]?)\s*")),
    ("paren_cn", re.compile(rf"\(\s*([{_CN}]+)\s*\)\s*([、,.]?)\s*")),
    ("paren_arabic", re.compile(r"\(\s*(\d{1,2})\s*\)\s*([、,.]?)\s*")),
    ("cn_shi", re.compile(rf"([{_CN}]+)(是)")),
    ("cn", re.compile(rf"([{_CN}]+)\s*([、,.:])\s*")),
    ("arabic", re.compile(r"(\d{1,2})(?:\s*([、,:)])|(\.)(?!\d))\s*")),
    ("circled", re.compile(rf"([{_CIRCLED}])\s*()")),
    ("roman", re.compile(r"(VIII|VII|VI|IV|V|III|II|I|[Ⅰ-Ⅹ])\s*([、,.])\s*")),
    ("cn_space", re.compile(rf"([{_CN}]{{1,2}})(\s+)(?=[\u4e00-\u9fff])")),
    ("arabic_space", re.compile(r"(\d{1,2})(\s+)(?=[\u4e00-\u9fff])")),
)


_NUMBER_STARTS = set(_CN + "0123456789(第" + _CIRCLED + "".join(_ROMAN)) | set(fold("0123456789(")) | set("０１２３４５６７８９（")


class Numbering(NamedTuple):  # (a NamedTuple: built for every candidate line, a frozen dataclass is slower)
    system: str        # "none", "cn", "arabic", "paren_cn", "part", …
    value: int | None  # the number, when it reads as one
    sep: str           # what follows the number: "、", ".", ")", " ", "" …
    length: int        # characters it takes, spaces after it included


NO_NUMBERING = Numbering("none", None, "", 0)


def _combined_numberings() -> tuple[re.Pattern, dict[int, tuple[str, int, int]]]:
    """All numbering patterns as one alternation, tried in the same order (at one
    position an alternation takes the first alternative that matches, as the loop over
    the patterns did): per alternative's wrapping group, (system, first inner group,
    number of inner groups)."""
    parts, where, index = [], {}, 1
    for system, pattern in _NUMBERINGS:
        parts.append(f"({pattern.pattern})")
        where[index] = (system, index + 1, pattern.groups)
        index += 1 + pattern.groups
    return re.compile("|".join(parts)), where


_NUMBERING, _NUMBERING_GROUPS = _combined_numberings()


def parse_numbering(s: str) -> Numbering:
    """The section numbering at the start of ``s`` (lead already removed)."""
    if not s or s[0] not in _NUMBER_STARTS:
        return NO_NUMBERING
    folded = fold(s[:16])  # a numbering is short; folding all of s would cost more
    m = _NUMBERING.match(folded)
    if not m:
        return NO_NUMBERING
    system, first, count = _NUMBERING_GROUPS[m.lastindex]
    groups = m.groups()[first - 1:first - 1 + count]
    raw = groups[0]
    if raw in _CIRCLED:  # before isdigit(), which is true of ① but int() cannot read it
        value = _CIRCLED.index(raw) + 1
    elif raw.isdigit():
        value = int(raw)
    elif raw in _ROMAN:
        value = _ROMAN[raw]
    else:
        value = chinese_to_int(raw)
    seps = [g for g in groups[1:] if g]
    sep = seps[-1] if seps else ""
    if system in ("cn_space", "arabic_space"):
        sep = " "
    return Numbering(system, value, sep, m.end())


def split_numbering(s: str) -> tuple[Numbering, str]:
    """(numbering, title) of a heading-like line (markdown emphasis ``**`` ignored)."""
    if s[:1] in "*_":
        s = s.strip("*_ ")
    numbering = parse_numbering(s)
    if numbering.system == "cn_shi":
        return numbering, s  # "一是…" opens a sentence, the words are part of it
    return numbering, s[numbering.length:].strip()


# --- similarity to the known wordings ---------------------------------------------

@dataclass(frozen=True)
class Anchors:
    """The wordings a heading is compared with: the template's, plus the wordings
    the model learned from annotated headings (so a new wording is taught by
    annotating an example, not by editing code)."""

    texts: tuple[str, ...]
    lens: np.ndarray
    #: The wordings of one section are contiguous: reduceat takes the max per section.
    group_starts: np.ndarray
    #: Any character of any wording: a line sharing none cannot resemble one.
    chars: re.Pattern

    @classmethod
    def build(cls, learned: dict[str, list[str]] | None = None) -> Anchors:
        texts, owners = [], []
        for i, key in enumerate(HEADING_KEYS):
            wordings = (SECTION_TITLES[key], *SECTION_VARIANTS.get(key, ()),
                        *(learned or {}).get(key, ()))
            for v in dict.fromkeys(wordings):
                texts.append(v)
                owners.append(i)
        return cls(texts=tuple(texts), lens=np.array([len(a) for a in texts], dtype=float),
                   group_starts=np.array([owners.index(i) for i in range(len(HEADING_KEYS))]),
                   chars=re.compile("[" + re.escape("".join(sorted(set("".join(texts))))) + "]"))


DEFAULT_ANCHORS = Anchors.build()
_TRAILING = "：:。;；，,.、 *_"


def learned_wordings(headings: list[tuple[str, str]]) -> dict[str, list[str]]:
    """(section key, heading as annotated) → the wordings the template lacks, per key."""
    known = set(DEFAULT_ANCHORS.texts)
    out: dict[str, set[str]] = {}
    for key, heading in headings:
        if key not in HEADING_KEYS or not heading:
            continue
        _, title = split_numbering(heading.strip(_WS).lstrip("#").strip(_WS))
        title = title.strip("*").rstrip(_TRAILING)
        if 2 <= len(title) <= MAX_HEADING_CHARS and title not in known:
            out.setdefault(key, set()).add(title)
    return {k: sorted(v) for k, v in sorted(out.items())}


@dataclass
class Similarity:
    """Per title (rows) and section (columns), against the section's closest wordings."""

    ratio: np.ndarray   # 2·LCS/(len line + len wording)
    cov: np.ndarray     # LCS/len(wording): how much of the wording the line holds
    prec: np.ndarray    # LCS/len(line): how much of the line is the wording (low for a
    #                     sentence that merely names it)
    lcs: np.ndarray     # longest common subsequence, in characters (best over sections)


def _similarities(titles: list[str], anchors: Anchors) -> Similarity:
    lcs = cdist(titles, anchors.texts, scorer=LCSseq.similarity, dtype=np.int32,
                workers=1).astype(float)
    tl = np.array([max(len(t), 1) for t in titles], dtype=float)[:, None]
    ratio = np.maximum.reduceat(2 * lcs / (tl + anchors.lens), anchors.group_starts, axis=1)
    cov = np.maximum.reduceat(lcs / anchors.lens, anchors.group_starts, axis=1)
    best_lcs = np.maximum.reduceat(lcs, anchors.group_starts, axis=1)
    return Similarity(ratio, cov, best_lcs / tl, best_lcs.max(axis=1))


# --- features -------------------------------------------------------------------------

def _bucket(value: float, edges: tuple[float, ...]) -> str:
    return str(bisect_right(edges, value))


def _shape(raw: str | None) -> str:
    """A coarse description of a neighbouring line, for context features."""
    if raw is None:
        return "edge"
    body = raw.rstrip()
    s = body.strip()
    if not s:
        return "blank"
    tab = "\t" in body
    if len(s) <= 12 and _NUMERIC_CELL.fullmatch(s.replace("\t", "")):
        return "cell_num" if tab else "num"
    if tab:
        return "cell"
    if s[-1] in _SENTENCE_END:
        return "sentence"
    return "short" if len(s) <= MAX_HEADING_CHARS else "para"


@dataclass
class Candidate:
    """A line that may be a heading, with its features.

    The features come in three parts, so that scoring can take the fixed-name numeric
    ones as one matrix and the bigrams without building their names; ``features``
    joins them into the one dict training vectorises.
    """

    line_index: int
    start: int           # first character after the lead (the section start if chosen)
    end: int             # end of the line's text
    heading: str         # text[start:end]
    named: dict[str, float]
    bigrams: list[str]   # the title's character bigrams, each a feature "bg=<bigram>" of 0.5
    similarity: np.ndarray  # the values of the features _SIMILARITY_NAMES

    @property
    def features(self) -> dict[str, float]:
        f = dict(self.named)
        f.update(dict.fromkeys([_BIGRAM + b for b in self.bigrams], _BIGRAM_VALUE))
        f.update(zip(_SIMILARITY_NAMES, self.similarity.tolist()))
        return f


#: A line is scored only if it reads like some section's wording at least this
#: much (ratio, alone or joined with the next line; less asked of numbered lines).
MIN_SIMILARITY = 0.4
MIN_SIMILARITY_NUMBERED = 0.3
#: Lines at least this close to a wording set the running order (see below).
STRONG_SIMILARITY = 0.75
_SIMILARITY_NAMES = [f"{kind}:{key}" for kind in ("ratio", "cov", "prec", "jratio")
                     for key in HEADING_KEYS]
_BIGRAM, _BIGRAM_VALUE = "bg=", 0.5
_BEST_NAMES = [f"best={key}" for key in HEADING_KEYS]
_TLEN_EDGES = (2, 4, 7, 11, 16, 23, 31, 45)
_EXCESS_EDGES = (-8, -3, 0, 1, 4, 9, 16)
_POS_EDGES = (0.05, 0.2, 0.4, 0.6, 0.8)
_CANONICAL_LENS = [len(SECTION_TITLES[k]) for k in HEADING_KEYS]


def _nonblank_neighbour(raw: list[str], i: int, step: int) -> int | None:
    j = i + step
    while 0 <= j < len(raw):
        if not raw[j].isspace() and raw[j]:
            return j
        j += step
    return None


def candidates(text: str, anchors: Anchors = DEFAULT_ANCHORS) -> list[Candidate]:
    """Every line that may be a heading, with the features the model scores.

    Shared by training (which labels these candidates from gold) and
    ``segment`` (which scores them), so the two cannot drift apart.
    """
    raw = text.split("\n")
    picked: list[int] = []
    picked_at: list[int] = []  # where each picked line starts in the text
    nexts: list[str] = []   # the next line, when short enough to end a split heading
    n_raw = len(raw)
    chars = anchors.chars
    # the lines worth a closer look, by where they start (long paragraphs and figures
    # are skipped at C speed)
    starts = [0] if _SHORT_CJK_FIRST_LINE.match(text) else []
    starts += [m.start() + 1 for m in _SHORT_CJK_LINE_AFTER_BREAK.finditer(text)]
    i, at = 0, 0
    for line_at in starts:
        i += text.count("\n", at, line_at)
        at = line_at
        s = raw[i].strip(_WS)
        if s[:1] == "#":
            s = s.lstrip("#").lstrip(_WS)
        # (the regex guarantees two Chinese characters; is_candidate's other tests)
        if len(s) > MAX_HEADING_CHARS or ("\t" in s and not _cells_ok(s)):
            continue
        nxt = raw[i + 1].strip() if i + 1 < n_raw else ""
        if not (0 < len(nxt) <= 30 and "\t" not in nxt):
            nxt = ""
        # A line sharing fewer than 3 characters with the wordings cannot resemble
        # one (unless it is short: 一、概述).
        shared = len(chars.findall(s))
        if (shared >= 3 or (shared == 2 and len(s) <= 10)
                or (nxt and len(chars.findall(s + nxt)) >= 3)):
            picked.append(i)
            picked_at.append(at)
            nexts.append(nxt)
    if not picked:
        return []
    spans = [_content_span(raw[i]) for i in picked]  # (lead, end) within each picked line
    bodies = [raw[i][lead:end] for i, (lead, end) in zip(picked, spans)]
    parsed = [split_numbering(b) for b in bodies]
    titles = [t.rstrip(_TRAILING) or t for _, t in parsed]
    n = len(titles)
    # A heading split over two lines: the title joined with the next line.
    split_rows = [j for j in range(n) if nexts[j]]
    sims = _similarities(titles + [titles[j] + nexts[j].rstrip(_TRAILING) for j in split_rows],
                         anchors)
    ratio, cov, prec, lcs = sims.ratio[:n], sims.cov[:n], sims.prec[:n], sims.lcs[:n]
    jratio, jlcs = ratio.copy(), lcs.copy()
    jratio[split_rows] = sims.ratio[n:]
    jlcs[split_rows] = sims.lcs[n:]
    best_plain = ratio.max(axis=1)
    best_joined = jratio.max(axis=1)
    # Score only lines that share a real part of some wording (3+ characters, or a
    # short wording such as 概述 whole) and resemble it enough.
    keep = []
    for j, (bp, bj, lc, jl) in enumerate(zip(best_plain.tolist(), best_joined.tolist(),
                                            lcs.tolist(), jlcs.tolist())):
        floor = MIN_SIMILARITY if parsed[j][0].value is None else MIN_SIMILARITY_NUMBERED
        if (bp >= floor and (lc >= 3 or bp > 0.99)) or (bj >= floor and jl >= 3):
            keep.append(j)
    if not keep:
        return []
    join_gain = np.maximum(best_joined - best_plain, 0.0).tolist()
    gain_by_line = dict(zip(picked, join_gain))
    best_key = ratio.argmax(axis=1).tolist()
    second = np.sort(ratio, axis=1)[:, -2].tolist()
    ratio_l, cov_l, prec_l = ratio.tolist(), cov.tolist(), prec.tolist()
    n_text = max(len(text), 1)
    # The running order: lines that read strongly like some section's wording.
    # A heading agrees with them (earlier ones name earlier sections, later ones
    # later sections, they share its numbering system); a sentence naming a
    # section out of turn or a table label usually does not.
    strong = [(picked[j], best_key[j], parsed[j][0].system) for j in keep
              if best_plain[j] >= STRONG_SIMILARITY or best_joined[j] >= STRONG_SIMILARITY]
    # Numbers running in sequence within one numbering family (二、 … 三、 … 四、):
    # does the previous/next scored line of the same family carry number ∓ 1?
    seq_prev: dict[int, bool] = {}
    seq_next: dict[int, bool] = {}
    last: dict[str, tuple[int, int]] = {}
    for j in keep:
        nb = parsed[j][0]
        if nb.value is None or nb.system == "cn_shi":
            continue
        if nb.system in last:
            pj, pv = last[nb.system]
            seq_prev[j] = pv == nb.value - 1
            seq_next[pj] = nb.value == pv + 1
        last[nb.system] = (j, nb.value)
    shapes: dict[int | None, str] = {None: "edge"}

    def shape(i: int | None) -> str:
        if i not in shapes:
            shapes[i] = _shape(raw[i]) if i is not None and 0 <= i < n_raw else "edge"
        return shapes[i]

    # the first two non-blank lines (a report's title lives there)
    first = _nonblank_neighbour(raw, -1, 1)
    opening = {first, _nonblank_neighbour(raw, first, 1) if first is not None else None}
    similarity_rows = np.hstack([ratio, cov, prec, jratio])
    n_strong = len(strong)
    strong_lines = {li for li, _, _ in strong}
    strong_keys = [k for _, k, _ in strong]
    strong_systems = [sy for _, _, sy in strong]

    out: list[Candidate] = []
    for j in keep:
        i = picked[j]
        line_start = picked_at[j]
        content, end = line_start + spans[j][0], line_start + spans[j][1]
        s = bodies[j]
        numbering = parsed[j][0]
        title = titles[j]
        lead = text[line_start:content]
        best = best_key[j]
        top = ratio_l[j][best]
        f: dict[str, float] = {"bias": 1.0, "sys=" + numbering.system: 1.0,
                               _BEST_NAMES[best]: 1.0, "best_ratio": top,
                               "best_ratio_sq": top * top, "best_margin": top - second[j],
                               "join_gain": join_gain[j],
                               "prev_join_gain": gain_by_line.get(i - 1, 0.0)}
        # numbering
        if numbering.sep:
            f["sep=" + (numbering.sep.strip() or "space")] = 1.0
        if numbering.value is not None:
            f[f"num={numbering.value if numbering.value <= 7 else 'big'}"] = 1.0
            f[f"num_vs_best={max(-2, min(2, numbering.value - best - 1))}"] = 1.0
        # similarity to each section's wordings, and whether the line is one
        # (a linear model cannot form these conjunctions itself)
        p_best, c_best = prec_l[j][best], cov_l[j][best]
        if p_best >= 0.95 and c_best >= 0.95:
            f["exact"] = 1.0
            f["exact&numbered=" + str(numbering.value is not None)] = 1.0
        elif p_best >= 0.8 and c_best >= 0.6:
            f["near"] = 1.0
            f["near&numbered=" + str(numbering.value is not None)] = 1.0
        if best_joined[j] >= 0.95 and join_gain[j] > 0.2:
            f["joined_exact"] = 1.0
        # the words of the title (character bigrams): 申请 speaks for applications
        # whatever the wording around it
        bigrams = list(dict.fromkeys([title[c:c + 2] for c in range(min(len(title), 24) - 1)]))
        # length and punctuation of the title
        f["tlen=" + _bucket(len(title), _TLEN_EDGES)] = 1.0
        f["tlen"] = min(len(title), 60) / 60
        f["excess=" + _bucket(len(title) - _CANONICAL_LENS[best], _EXCESS_EDGES)] = 1.0
        last = s[-1]
        if last in _SENTENCE_END:
            f["ends=sentence"] = 1.0
        elif last in _COMMAS:
            f["ends=comma"] = 1.0
        elif last in "：:":
            f["ends=colon"] = 1.0
        inner = len(_INNER_PUNCT.findall(title.rstrip(_TRAILING)))
        if inner:
            f["inner_punct"] = min(inner, 3) / 3
        if _DIGIT.search(title):
            f["title_digit"] = 1.0
        if _QUOTE.search(title):
            f["quote"] = 1.0
        if _PAREN.search(title):
            f["title_paren"] = 1.0
        if "\t" in s:
            f["inner_tab"] = 1.0
        if "报告" in title:
            f["says_report"] = 1.0
        # layout
        if lead:
            if "#" in lead:
                f["markdown"] = 1.0
            if "\t" in lead:
                f["indent=tab"] = 1.0
            elif "\u3000" in lead:
                f["indent=fullwidth"] = 1.0
            elif lead.strip("#\ufeff"):
                f["indent=space"] = 1.0
        # neighbours
        f["prev=" + shape(i - 1)] = 1.0
        f["next=" + shape(i + 1)] = 1.0
        f["prev_nb=" + shape(_nonblank_neighbour(raw, i, -1))] = 1.0
        f["next_nb=" + shape(_nonblank_neighbour(raw, i, 1))] = 1.0
        # the running order
        if j in seq_prev:
            f["seq_prev=" + str(seq_prev[j])] = 1.0
        if j in seq_next:
            f["seq_next=" + str(seq_next[j])] = 1.0
        # (a line is never against itself: it is neither before nor after itself)
        against = sum(1 for li, k, _ in strong if (li < i and k > best) or (li > i and k < best))
        is_strong = i in strong_lines
        n_others = n_strong - is_strong
        same_key = strong_keys.count(best) - is_strong
        same_sys = strong_systems.count(numbering.system) - is_strong
        if n_others:
            f["order_against"] = min(against, 4) / 4
            f["order_with"] = min(n_others - against, 5) / 5
            f["same_key"] = min(same_key, 3) / 3
            f["sys_share"] = same_sys / n_others
        else:
            f["alone"] = 1.0
        # position in the document
        pos = content / n_text
        f["pos"] = pos
        f["posb=" + _bucket(pos, _POS_EDGES)] = 1.0
        if i in opening:
            f["first_lines"] = 1.0
        out.append(Candidate(i, content, end, s, f, bigrams, similarity_rows[j]))
    return out


# --- the model --------------------------------------------------------------------------

class SectionModel:
    """A DictVectorizer + multinomial LogisticRegression over candidate features.

    Scoring goes straight through the stored weights (one matrix product per
    document), bypassing scikit-learn's per-call validation, which costs more
    than the arithmetic at this size.
    """

    def __init__(self, estimator, meta: dict | None = None):
        self.estimator = estimator
        self.meta = dict(meta or {})
        #: Added to every heading's log-odds when decoding: the prior that a
        #: report has each section (tuned on held-out reports by training).
        self.presence_bonus = float(self.meta.get("presence_bonus", 0.0))
        self.anchors = Anchors.build(self.meta.get("learned_wordings"))
        vectorizer, classifier = estimator.steps[0][1], estimator.steps[-1][1]
        self._vocabulary: dict[str, int] = vectorizer.vocabulary_
        self._classes = [str(c) for c in classifier.classes_]
        coef = np.asarray(classifier.coef_, dtype=float)
        intercept = np.asarray(classifier.intercept_, dtype=float)
        if coef.shape[0] == 1:  # binary: sklearn stores one row for classes_[1]
            coef = np.vstack([-coef / 2, coef / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        # Columns in a fixed order: none, then the heading keys (absent ones get -inf).
        order = [NONE, *HEADING_KEYS]
        self._coef = np.zeros((len(order), coef.shape[1]))
        self._intercept = np.full(len(order), -1e9)
        for row, cls in enumerate(order):
            if cls in self._classes:
                self._coef[row] = coef[self._classes.index(cls)]
                self._intercept[row] = intercept[self._classes.index(cls)]
        self._coef_t = self._coef.T.copy()
        self._coef_t_padded = np.vstack([self._coef_t, np.zeros((1, len(order)))])
        # Candidate parts scored without their feature names: the bigrams by their own
        # text, the similarity values as one matrix product.
        self._bigram_index = {name[len(_BIGRAM):]: j for name, j in self._vocabulary.items()
                              if name.startswith(_BIGRAM)}
        unknown = len(self._vocabulary)
        self._similarity_coef = self._coef_t_padded[
            [self._vocabulary.get(name, unknown) for name in _SIMILARITY_NAMES]]

    # storage
    def save(self, directory: Path) -> None:
        modelstore.save(Path(directory) / MODEL_FILE, {
            "kind": "sections", "feature_version": FEATURE_VERSION,
            "estimator": modelstore.estimator_to_dict(self.estimator), "meta": self.meta})

    @classmethod
    def load(cls, directory: Path) -> SectionModel:
        path = Path(directory) / MODEL_FILE
        if not path.exists():
            raise FileNotFoundError(f"no section model at {path}; run `govreport train`")
        data = modelstore.load(path)
        if data.get("kind") != "sections" or data.get("feature_version") != FEATURE_VERSION:
            raise ValueError(f"{path}: not a section model of feature version {FEATURE_VERSION}; "
                             "run `govreport train`")
        return cls(modelstore.linear_pipeline(data["estimator"]), data.get("meta"))

    # scoring
    def matrix(self, feats: list[dict[str, float]]) -> np.ndarray:
        """The feature dicts as a dense matrix over the model's vocabulary."""
        get = self._vocabulary.get
        cols = np.array([get(name, -1) for f in feats for name in f], dtype=np.intp)
        vals = np.array([v for f in feats for v in f.values()], dtype=float)
        rows = np.repeat(np.arange(len(feats)), [len(f) for f in feats])
        known = cols >= 0
        X = np.zeros((len(feats), len(self._vocabulary)))
        X[rows[known], cols[known]] = vals[known]
        return X

    def log_proba(self, feats: list[dict[str, float]]) -> np.ndarray:
        """log P(class | line), columns ``none`` then ``HEADING_KEYS``."""
        if not feats:
            return np.zeros((0, len(HEADING_KEYS) + 1))
        return self.log_proba_matrix(self.matrix(feats))

    def score(self, found: list[Candidate]) -> np.ndarray:
        """``log_proba`` of candidates, from their parts (the same sums, without
        building each candidate's feature dict)."""
        if not found:
            return np.zeros((0, len(HEADING_KEYS) + 1))
        lens = [len(c.named) + len(c.bigrams) for c in found]
        if 0 in lens:  # (candidates() always gives "bias"; reduceat cannot sum an empty row)
            return self.log_proba([c.features for c in found])
        get, bigram = self._vocabulary.get, self._bigram_index.get
        unknown = len(self._vocabulary)  # a zero row of weights, for names the model does not know
        n = sum(lens)
        # (C-level iteration: map/chain instead of comprehensions)
        cols = np.fromiter(chain.from_iterable(
            chain(map(get, c.named, repeat(unknown)), map(bigram, c.bigrams, repeat(unknown))) for c in found),
            np.intp, n)
        vals = np.fromiter(chain.from_iterable(
            chain(c.named.values(), repeat(_BIGRAM_VALUE, len(c.bigrams))) for c in found), float, n)
        starts = np.fromiter(accumulate(lens[:-1], initial=0), np.intp, len(found))
        logits = np.add.reduceat(self._coef_t_padded[cols] * vals[:, None], starts, axis=0)
        logits += np.array([c.similarity for c in found]) @ self._similarity_coef
        return self._normalise(logits)

    def _normalise(self, logits: np.ndarray) -> np.ndarray:
        logits += self._intercept
        logits -= logits.max(axis=1, keepdims=True)
        return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))

    def log_proba_matrix(self, X) -> np.ndarray:
        """``log_proba`` of rows already vectorised (dense or sparse) with this vocabulary."""
        return self._normalise(np.asarray(X @ self._coef_t))


# --- decoding ---------------------------------------------------------------------------

def decode(scores: np.ndarray) -> list[tuple[int, int]]:
    """Best ordered assignment of rows (lines, in text order) to sections.

    ``scores[r, k]`` is the log-odds of row r being section k's heading against
    being no heading.  Returns ``[(row, k)]`` with rows and ks both strictly
    increasing, maximising the summed scores; rows left out are no heading, and
    a section with no row is absent.  O(rows · sections²).
    """
    n_rows, n_keys = scores.shape if scores.size else (0, len(HEADING_KEYS))
    # best[k]: best total of a path whose last section is k (k = -1: none yet),
    # kept with a back-pointer chain.
    best = [0.0] + [-math.inf] * n_keys
    links: list[tuple | None] = [None] * (n_keys + 1)
    for r, row in enumerate(scores.tolist() if n_rows else ()):
        if max(row) <= 0:  # a row is only ever chosen as a section with a positive score
            continue
        new_best, new_links = list(best), list(links)
        prefix_val, prefix_idx = best[0], 0
        for k in range(n_keys):
            # best path ending at a section < k (index k in `best`, shifted by one)
            if best[k] > prefix_val:
                prefix_val, prefix_idx = best[k], k
            total = prefix_val + row[k]
            if row[k] > 0 and total > new_best[k + 1]:
                new_best[k + 1], new_links[k + 1] = total, ((r, k), links[prefix_idx])
        best, links = new_best, new_links
    end = int(np.argmax(best))
    out: list[tuple[int, int]] = []
    node = links[end]
    while node is not None:
        out.append(node[0])
        node = node[1]
    return out[::-1]


def segment(doc: Document, model: SectionModel) -> list[Section]:
    """The report's sections: a preamble, then each heading found, in order.

    Spans are contiguous: each ends where the next starts, the last at the end
    of the text.  Any text (even an empty or non-report one) gives at least the
    preamble.
    """
    text = doc.text
    found = candidates(text, model.anchors)
    picked: list[tuple[Candidate, str]] = []
    if found:
        logp = model.score(found)
        scores = logp[:, 1:] - logp[:, :1]
        scores += model.presence_bonus
        picked = [(found[r], HEADING_KEYS[k]) for r, k in decode(scores)]
    sections = [Section(key="preamble", heading="", start=0, end=len(text))]
    for cand, key in picked:
        sections[-1].end = cand.start
        sections.append(Section(key=key, heading=cand.heading, start=cand.start, end=len(text)))
    return sections
