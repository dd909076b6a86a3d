"""Prose metrics: the figures a report states in running text, with their evidence.

How a figure is found:

1. **Prose view.** Only lines that read like running text are looked at (no tab-separated
   cells, no source-table regions, no short label lines). Consecutive lines of one sentence
   are joined without the line break, so ``在政\\n府网站`` reads as one word; every view
   character keeps its offset in the source text.
2. **Candidates.** Every number in the view (Arabic, full-width, Chinese numerals, ``万``),
   with the unit written after it. Numbers that are never metrics — dates, percentages,
   ranges, phone numbers, ordinals, list numbers, model names — are dropped by rule.
3. **Features.** The unit, the words (as the tokenizer of a blank spaCy ``zh`` pipeline
   with the jieba segmenter cuts them, see ``words``; cut only in the part of the figure's
   clause before the number and the part after its unit) of the clause before the figure
   and of the words after it,
   and keyword groups (channels, verbs, things that are never metrics) found in the
   figure's clause, the clause before it and its sentence.
4. **Two linear classifiers.** The metric type (or ``none``), and for published items the
   channel. Both predict once per document.
5. **Evidence span.** From the first channel or keyword of the figure's clause (the previous
   clause when the predicted channel is only named there) to the end of the unit.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate, chain, repeat
from pathlib import Path
from typing import Any

import numpy as np

from service import modelstore
from service.jieba_words import LazyTokenizer, load_tokenizer
from service.numbers import CHINESE_NUMERAL_CHARS, count_numbers, fold, numbers_in_folded, parse_number
from service.types import Document, Metric, Section

MODEL_FILE = "metrics.json.gz"
NONE = "none"

# Units as reports write them after a figure; longer ones first so 万元 wins over 元.
UNITS = ("万元", "人次", "户次", "件次", "批次", "场次", "万人", "元", "条", "篇", "件", "次", "期", "个",
         "场", "份", "项", "起", "部", "批", "则", "幅", "组", "名", "人", "户", "家", "卷", "亩", "台", "户")
#: Units that count people, households, machines or land: never a metric.
_NON_METRIC_UNITS = {"名", "人", "人次", "万人", "户", "户次", "台", "亩", "卷", "家", "批次"}
#: After the number (and an optional 余/多): a date, a percentage, an age, … never a metric.
_NEVER_AFTER = set("%‰年月日时号岁℃度")
_RANGE_MARKS = set("-—–~～至到")
_SENTENCE_END = set("。！？；!?;")
_CLAUSE_END = set("，,、：:（）()")
_APPROX = set("余多近")
_QUOTES = set("“”\"'‘’「」『』《》 ")

_HEADING_START = re.compile(
    r"\s*(?:[（(][一二三四五六七八九十\d]+[)）]|[一二三四五六七八九十]+、|\d+[、.．]\D|第[一二三四五六七八九十\d]+[部章节])")

# Keyword groups: rules used as features, never as decisions.
KEYWORDS: dict[str, tuple[str, ...]] = {
    # channels
    "ch_portal": ("门户网站", "政府网站", "政府网", "网站", "网页", "子站", "官网", "政府门户", "上网"),
    "ch_gov_platform": ("政务公开平台", "信息公开平台", "公开平台", "公开专栏", "信息公开专栏", "政务公开专栏",
                        "公开目录"),
    "ch_wechat": ("微信", "公众号"),
    "ch_weibo": ("微博",),
    "ch_short_video": ("抖音", "快手", "视频号", "短视频"),
    "ch_media": ("媒体", "报刊", "日报", "晚报", "报纸", "电视", "广播", "融媒体", "新闻网", "电台", "报》", "网”"),
    "ch_other": ("头条", "小红书", "公开栏", "公示栏", "客户端", "学习强国", "APP", "显示屏", "公告栏", "B站",
                 "百家号", "一点通", "新媒体", "两微一端"),
    # what is counted
    "pub_verb": ("发布", "公开", "推送", "更新", "刊发", "刊登", "播发", "发表", "转载", "上传", "张贴", "公示",
                 "报道", "编发", "推出", "播出"),
    "info": ("信息", "稿件", "文章", "动态", "作品", "视频", "报道", "新闻", "图文", "内容"),
    "all": ("主动公开", "政府信息", "各类信息", "累计", "全年共", "共计", "总计"),
    "apply": ("申请", "依申请"),
    "recv": ("收到", "受理", "新收", "接收", "收悉"),
    "carry": ("结转", "上年", "上一年", "上年度"),
    "forward": ("下年", "下一年", "下一年度", "继续办理", "结转至"),
    "done": ("办结", "答复", "办理完毕", "完成", "已办"),
    "interp": ("解读", "图解"),
    "press": ("发布会",),
    "review": ("复议",),
    "litig": ("诉讼", "起诉"),
    "norm": ("规范性文件",),
    "make": ("制发", "印发", "出台", "制定", "发文"),
    "lic": ("许可",),
    "pen": ("处罚",),
    "fee": ("收费", "费用", "处理费", "金额", "收取"),
    # never metrics
    "change": ("增加", "减少", "增长", "下降", "持平", "同比", "较上年", "相比", "去年", "上升", "提高", "降低",
               "增幅", "环比"),
    "part": ("其中",),
    "audience": ("粉丝", "关注", "阅读", "浏览", "点击", "播放", "观看", "访问", "用户", "订阅", "点赞", "转发"),
    "live": ("直播",),
    "staff": ("人员", "干部", "职工", "专职", "兼职", "配备", "工作人员"),
    "event": ("培训", "会议", "活动", "检查", "督查", "讲座", "宣讲", "展览", "巡查", "走访", "慰问"),
    "total_inc": ("共计", "合计", "总计", "共需", "加上"),
    "include": ("含", "包括"),
    "result": ("予以公开", "部分公开", "不予公开", "无法提供", "维持", "纠正", "驳回", "终止", "不予处理",
               "同意公开", "区分处理", "告知", "不属于"),
    # counted things that are not items published (pages of a guide, matters on a platform)
    "not_items": ("事项", "页", "指南", "公报", "期刊", "办件", "诉求", "工单", "留言", "来电", "咨询"),
    "pending": ("办理中", "尚未", "正在"),
    "applicant": ("自然人", "法人", "企业", "组织"),
    "phone": ("电话", "热线", "传真", "邮编", "地址"),
    "money": ("资金", "万元", "亿元", "经费", "补贴", "金额"),
    "proposal": ("建议", "提案", "人大代表", "政协"),  # not 议案: it is inside 复议案件
    "clean": ("清理", "废止", "保留", "备案", "评估", "审查"),
    "column": ("栏目", "专题", "目录", "节目"),
}
CHANNEL_GROUPS = {"ch_portal": "portal", "ch_gov_platform": "gov_platform", "ch_wechat": "wechat",
                  "ch_weibo": "weibo", "ch_short_video": "short_video", "ch_media": "media",
                  "ch_other": "other"}
# Where an evidence span may start: any channel word or a word naming what is counted.
_PUBLISHED_ANCHORS = tuple(CHANNEL_GROUPS) + ("pub_verb",)
# Words that open the phrase an anchor belongs to (行政|处罚, 召开新闻|发布会, 政务|微博).
_SPAN_PREFIXES = ("行政", "新闻", "政务", "官方", "召开", "举办", "举行", "开展", "作出", "政策", "被申请",
                  "被提起", "被", "已全部", "已", "共", "实际", "主动")
_MAX_PREFIXES = 2
# No prefix ends with another, so at most one can end where a span starts: look them up
# by the text just before the start, one length at a time.
_SPAN_PREFIX_LENGTHS = sorted({len(p) for p in _SPAN_PREFIXES}, reverse=True)
_SPAN_PREFIX_SET = frozenset(_SPAN_PREFIXES)
_TYPE_ANCHORS = {"published_items": _PUBLISHED_ANCHORS, "applications_received": ("recv", "apply"), "applications_carried_over": ("carry",),
                 "applications_completed": ("done",), "policy_interpretations": ("pub_verb", "interp"),
                 "press_conferences": ("press",), "review_cases": ("review",),
                 "litigation_cases": ("litig",), "normative_documents_issued": ("norm", "make"),
                 "licensing_decisions": ("lic",), "penalty_decisions": ("pen",), "fee_collected": ("fee",)}
# A counted figure (number + counting unit), to tell lists of counts from lone figures.
_COUNT = re.compile(r"[0-9０-９零〇一二两三四五六七八九十百千]+\s*[余多]?[条篇件次期个场份项起]")
# Extended span to the right (``192篇通知公告``, ``受理104件依申请公开``) only when short.
_RIGHT_EXTENSION = 8


# --- the prose view ------------------------------------------------------------

@dataclass(slots=True)
class Block:
    """A paragraph of running text with line breaks inside sentences removed."""

    text: str
    starts: list[int]   # where each joined line starts in ``text``
    sources: list[int]  # and where it starts in the source text

    def offset(self, i: int) -> int:
        """Source offset of text[i]."""
        k = bisect.bisect_right(self.starts, i) - 1
        return self.sources[k] + i - self.starts[k]

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        return self.offset(start), self.offset(end - 1) + 1


# three or more numbers separated by spaces (written digit-first, which the regex engine
# scans for quickly, then "not preceded by a digit"; the runs are possessive, as giving
# back a digit before a space or a space before a digit never helps; \d covers full-width
# digits)
_NUMBER_RUN = re.compile(r"\d(?<!\d\d)\d*+\s++(?:\d++\s++)+\d")


_PROSE_PUNCT = re.compile("[，。；：,;]")

#: What any number ``numbers_in_folded`` (or ``count_numbers``) finds holds: a digit
#: (full-width ones too, which \d covers, so the text need not be folded to tell), two
#: numeral characters, or 十.
_MAYBE_NUMBER = re.compile(rf"\d|[{CHINESE_NUMERAL_CHARS}]{{2}}|十")


def _is_prose_line(s: str) -> bool:
    """Whether a stripped line without tabs reads like running text rather than a table
    cell or a label."""
    if len(s) < 2 or _NUMBER_RUN.search(s):  # 2 0 0 0 0 0 2: a table row rendered with spaces
        return False
    if _PROSE_PUNCT.search(s):
        return True
    return len(s) >= 20 and (not _MAYBE_NUMBER.search(s) or count_numbers(s, 3) <= 2)


#: Lines that may be running text: no tab, and a sentence mark or at least 20 characters
#: (``_is_prose_line`` decides; every other line only ends a paragraph). Matched from the
#: newline before the line (the text is given one in front), which the regex engine
#: jumps to; ``^`` with re.M would be tried at every character.
_MAYBE_PROSE = re.compile(r"\n(?=[^\t\n]*[，。；：,;]|[^\t\n]{20})([^\t\n]*)(?![^\n])")


def prose_blocks(doc: Document, sections: list[Section] | None = None) -> list[Block]:
    """The running text of ``doc`` as blocks, skipping tables the format delimited."""
    text = doc.text
    skip = sorted((t.start, t.end) for t in doc.tables)
    skip_starts = [s for s, _ in skip]
    blocks: list[Block] = []
    pieces: list[str] = []
    offsets: list[int] = []
    prev_open = False  # the previous line was prose and did not end its sentence
    expected = 0  # where the line after the last one looked at starts
    # Only the lines that may be prose are looked at (found at C speed); a gap between
    # two of them is lines that are not prose, which end the paragraph. (In "\n" + text
    # a match starts at its newline, so its offsets are those of the line in ``text``.)
    for m in _MAYBE_PROSE.finditer("\n" + text):
        line_start = m.start()
        line = m.group(1)
        if line.endswith("\r"):
            line = line[:-1]
        if line_start != expected and pieces:
            fragments = _sentence_fragments(text, expected, line_start - 1) if prev_open else None
            if fragments and _is_prose_line(line.strip()) and not _HEADING_START.match(line):
                for at, fragment in fragments:  # 公开政府信息\n249\n条，其中…: one sentence
                    pieces.append(fragment)
                    offsets.append(at)
            else:
                _flush(blocks, pieces, offsets)
                pieces, offsets, prev_open = [], [], False
        expected = m.end()
        in_table = False
        if skip:
            i = bisect.bisect_right(skip_starts, line_start) - 1
            in_table = i >= 0 and skip[i][0] <= line_start < skip[i][1]
        body = line.strip()
        if not in_table and _is_prose_line(body):
            if not (prev_open and pieces and not _HEADING_START.match(line)):
                _flush(blocks, pieces, offsets)
                pieces, offsets = [], []
            pieces.append(body)
            offsets.append(line_start + len(line) - len(line.lstrip()))
            prev_open = body[-1] not in _SENTENCE_END and body[-1] not in "：:"
        elif pieces:
            _flush(blocks, pieces, offsets)
            pieces, offsets, prev_open = [], [], False
    _flush(blocks, pieces, offsets)
    return blocks


#: The most lines, and the longest line, a sentence's piece between two of its prose
#: lines may have (a figure or a word an HTML tag set on a line of its own).
_FRAGMENT_LINES = 3
_FRAGMENT_LENGTH = 12


def _sentence_fragments(text: str, start: int, end: int) -> list[tuple[int, str]] | None:
    """The lines of ``text[start:end]`` (offset, stripped text) when they are short
    pieces of a sentence broken at every inline tag (a page's text taken with a line
    break per element: ``公开政府信息\n249\n条，其中``), else None."""
    if end - start > _FRAGMENT_LINES * (_FRAGMENT_LENGTH + 4):
        return None
    out = []
    at = start
    for line in text[start:end].split("\n"):
        body = line.strip()
        if not body or "\t" in line or len(body) > _FRAGMENT_LENGTH:
            return None
        out.append((at + line.index(body[0]), body))
        at += len(line) + 1
    return out if len(out) <= _FRAGMENT_LINES else None


def _flush(blocks: list[Block], pieces: list[str], offsets: list[int]) -> None:
    """A block of the lines ``pieces``, which start at ``offsets`` in the source."""
    if pieces:
        blocks.append(Block("".join(pieces), list(accumulate(map(len, pieces[:-1]), initial=0)), offsets))


# --- candidates ------------------------------------------------------------------

@dataclass(slots=True)
class Candidate:
    """A number in running text that might be a metric, with its context."""

    block: Block
    value: int | float
    num_start: int  # view offsets
    num_end: int
    unit: str
    unit_end: int
    sent_start: int
    sent_end: int
    clause_start: int
    clause_end: int
    prev_clause_start: int
    approx: bool = False
    chinese: bool = False
    features: dict[str, float] = field(default_factory=dict)

    @property
    def source_start(self) -> int:
        return self.block.offset(self.num_start)


_UNIT_RE = re.compile(" *([余多近])?(" + "|".join(map(re.escape, UNITS)) + ")?")


def _unit_at(folded: str, pos: int) -> tuple[str, int, bool]:
    """The unit written at ``pos`` (after spaces and 余/多), its end, and whether approximate."""
    m = _UNIT_RE.match(folded, pos)
    if m is None or not m.group(2):
        return "", pos, bool(m and m.group(1))
    return m.group(2), m.end(), bool(m.group(1))


def _never_a_metric(folded: str, start: int, end: int, unit: str, unit_end: int) -> bool:
    """Dates, percentages, ranges, phone numbers, ordinals, list numbers and model names."""
    after = folded[end:end + 1]
    after_unit = folded[unit_end:unit_end + 1] if unit else after
    before = folded[start - 1:start] if start else ""
    if unit in _NON_METRIC_UNITS:
        return True
    if not unit and after and after not in _SENTENCE_END and after not in _CLAUSE_END:
        return True  # a figure without a unit counts only when it ends its clause (均为0。)
    if not unit:
        k = end
        while k < len(folded) and folded[k] in " 余多":
            k += 1
        if k < len(folded) and folded[k] in _NEVER_AFTER:
            return True
        if after in "、.)）" and after:  # list numbering: 1、 1. (1)
            return True
    if before in _RANGE_MARKS and start >= 2 and folded[start - 2].isdigit():
        return True
    if after_unit in _RANGE_MARKS and after_unit and folded[unit_end + 1:unit_end + 2].isdigit():
        return True
    if after in _RANGE_MARKS and after and folded[end + 1:end + 2].isdigit():
        return True
    if before == "第" or (before.isascii() and before.isalpha()) or (after.isascii() and after.isalpha()):
        return True
    if before in "/." and before:
        return True
    # inside a document title 《…》 or a document number 〔2024〕
    left = folded[max(0, start - 40):start]
    if left.rfind("《") > left.rfind("》") or left.rfind("〔") > left.rfind("〕"):
        return True
    return False


_CLAUSE_OR_SENTENCE_MARK = re.compile("[" + re.escape("".join(sorted(_SENTENCE_END | _CLAUSE_END))) + "]")


def candidates_in(block: Block) -> list[Candidate]:
    if not _MAYBE_NUMBER.search(block.text):  # most paragraphs state no figure at all
        return []
    folded = fold(block.text)
    clause_marks: list[int] = []
    sentence_marks: list[int] = []
    found: list[Candidate] = []
    for value, start, end in numbers_in_folded(folded):
        unit, unit_end, approx = _unit_at(folded, end)
        # 0.12万元: 万 belongs to the unit, the value stays in 万元 as table 2 states fees.
        if folded[end - 1] == "万" and folded.startswith("元", end):
            parsed = parse_number(folded[start:end - 1])
            if parsed is None:
                continue
            value, unit, unit_end = parsed, "万元", end + 1
        if _never_a_metric(folded, start, end, unit, unit_end):
            continue
        if not found:  # the clause and sentence bounds, once a block has a candidate
            clause_marks = [m.start() for m in _CLAUSE_OR_SENTENCE_MARK.finditer(folded)]
            sentence_marks = [p for p in clause_marks if folded[p] in _SENTENCE_END]
        i = bisect.bisect_left(sentence_marks, start)
        sent_start = sentence_marks[i - 1] + 1 if i else 0
        sent_end = sentence_marks[i] if i < len(sentence_marks) else len(folded)
        j = bisect.bisect_left(clause_marks, start)
        clause_start = max(clause_marks[j - 1] + 1 if j else 0, sent_start)
        k = bisect.bisect_left(clause_marks, max(unit_end, end))
        clause_end = min(clause_marks[k] if k < len(clause_marks) else len(folded), sent_end)
        prev_clause_start = sent_start
        if j >= 2 and clause_marks[j - 2] + 1 > sent_start:
            prev_clause_start = clause_marks[j - 2] + 1
        found.append(Candidate(block=block, value=value, num_start=start, num_end=end, unit=unit,
                               unit_end=unit_end if unit else end, sent_start=sent_start,
                               sent_end=sent_end, clause_start=clause_start, clause_end=clause_end,
                               prev_clause_start=prev_clause_start, approx=approx,
                               chinese=not folded[start].isdigit()))
    return found


def find_candidates(doc: Document, sections: list[Section] | None = None) -> list[Candidate]:
    """Every candidate figure in the running text of ``doc``, in text order."""
    out: list[Candidate] = []
    for block in prose_blocks(doc, sections):
        out.extend(candidates_in(block))
    return out


# --- features --------------------------------------------------------------------

@lru_cache(maxsize=1)
def get_nlp() -> Any:
    """The blank spaCy ``zh`` pipeline with the jieba segmenter: the reference for ``words``.

    Not used at run time (see ``words``); ``govreport train`` and the tests check
    against it that ``words`` cuts exactly as it does.
    """
    import spacy

    get_tokenizer()  # (quietens jieba's log)
    return spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})


@lru_cache(maxsize=1)
def get_tokenizer() -> LazyTokenizer:
    """jieba's accurate-mode cutter with its default dictionary (read as needed; built once)."""
    return load_tokenizer()


def _keyword_index() -> tuple[re.Pattern, dict[str, tuple[tuple[int, str, tuple[str, ...]], ...]]]:
    """The first characters of all keywords, and per way a keyword starts (its first two
    characters, or the whole of a one-character word) the groups (in ``KEYWORDS`` order,
    with their number in it) with their words that start so, longest first.  A
    one-character word is listed under every two-character start that begins with it as well."""
    starts = {w[:2] for words in KEYWORDS.values() for w in words}
    by_start: dict[str, list[tuple[int, str, tuple[str, ...]]]] = {}
    for start in sorted(starts):
        for number, (g, words) in enumerate(KEYWORDS.items()):
            starting = sorted((w for w in words if w[:2] == start or w == start[0]), key=len, reverse=True)
            if starting:
                by_start.setdefault(start, []).append((number, g, tuple(starting)))
    pattern = re.compile("[" + re.escape("".join(sorted({w[0] for w in starts}))) + "]")
    return pattern, {k: tuple(v) for k, v in by_start.items()}


_KEYWORD_FIRST, _KEYWORDS_BY_START = _keyword_index()

#: A keyword found in a text: (number of its group in ``KEYWORDS``, start, end, group).
Hit = tuple[int, int, int, str]


def keyword_hits(text: str, start: int, end: int) -> list[Hit]:
    """Every keyword occurrence in ``text[start:end]``, groups in ``KEYWORDS`` order and
    each group's in text order: at each position the longest word of each group.

    One scan for the characters keywords start with, instead of a regex per group; at
    each, only the words that start with the next two characters are tried.
    """
    hits: list[Hit] = []
    by_start = _KEYWORDS_BY_START
    for m in _KEYWORD_FIRST.finditer(text, start, end):
        p = m.start()
        for number, g, words in by_start.get(text[p:p + 2]) or by_start.get(m.group(), ()):
            for w in words:
                if text.startswith(w, p, end):
                    hits.append((number, p, p + len(w), g))
                    break
    hits.sort()  # by group, then start (one hit per group and start)
    return hits


def _nearest_channel_before(hits: list[Hit], start: int, end: int) -> str | None:
    """The channel group whose keyword ends closest before ``end`` (within ``start:end``)."""
    best, best_key = None, (-1, 0)
    for _, s, e, g in hits:
        if g in CHANNEL_GROUPS and start <= s and e <= end and (e, -s) > best_key:
            best, best_key = g, (e, -s)  # ties: the longer word (政务新媒体), then the first group
    return best


def _magnitude(value: int | float) -> str:
    if value == 0:
        return "0"
    if isinstance(value, float) and not value.is_integer():
        return "dec"
    return str(min(len(str(int(value))), 5))


def words(text: str) -> list[str]:
    """The words of ``text`` as the blank spaCy ``zh`` pipeline (jieba segmenter) cuts
    them, without spaces and punctuation.

    spaCy is not imported for it: that costs about a second, half the service's
    start-up budget, and its ``zh`` tokenizer is jieba's accurate cut while its
    ``is_punct`` is the Unicode test of ``is_punct`` below. ``check_words_match_spacy``
    holds the two to each other.
    """
    return [w for w in get_tokenizer().cut(text)
            if w and (w.isalnum() or not (w.isspace() or is_punct(w)))]


def is_punct(word: str) -> bool:
    """spaCy's ``is_punct`` lexical attribute: every character is Unicode punctuation (P*)."""
    return all(unicodedata.category(c).startswith("P") for c in word)


def check_words_match_spacy(texts: Iterable[str]) -> None:
    """Raise if ``words`` cuts any of ``texts`` differently from the spaCy pipeline
    (``get_nlp``), e.g. after a jieba or spaCy upgrade changed one of them."""
    nlp = get_nlp()
    for text in texts:
        expected = [t.text for t in nlp.tokenizer(text) if not (t.is_space or t.is_punct)]
        got = words(text)
        if got != expected:
            at = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b),
                      min(len(got), len(expected)))
            raise RuntimeError(
                f"words() no longer cuts as the spaCy zh pipeline does: {got[at:at + 5]} "
                f"against {expected[at:at + 5]}; the tokenizer code in service/metrics.py "
                "needs updating for the installed jieba/spaCy")


def featurise(cands: list[Candidate]) -> None:
    """Fill ``features`` of every candidate.

    jieba runs only over the words the features use: the part of the figure's clause
    before the number and the part after its unit, each distinct piece of text once (the
    part after the unit is mostly empty, which has no words); keywords are found once per
    sentence.
    """
    words_of: dict[str, list[str]] = {"": []}
    sentences: dict[tuple[int, int], list[Hit]] = {}
    for c in cands:
        text = c.block.text
        left_text = text[c.clause_start:c.num_start]
        left = words_of.get(left_text)
        if left is None:
            left = words_of[left_text] = words(left_text)
        right_text = text[c.unit_end:c.clause_end]
        right = words_of.get(right_text)
        if right is None:
            right = words_of[right_text] = words(right_text)
        hits = sentences.get((id(c.block), c.sent_start))
        if hits is None:
            hits = sentences[(id(c.block), c.sent_start)] = keyword_hits(text, c.sent_start, c.sent_end)
        c.features = _features(c, left, right, hits)


def _features(c: Candidate, left_toks: list[str], right_toks: list[str], hits: list[Hit]) -> dict[str, float]:
    """The features of one candidate: ``left_toks`` are the words of its clause before
    the number, ``right_toks`` those after its unit, ``hits`` the keywords of its sentence."""
    text = c.block.text
    left = text[c.clause_start:c.num_start]
    prev = text[c.prev_clause_start:max(c.prev_clause_start, c.clause_start - 1)]
    f: dict[str, float] = {"bias": 1.0, f"unit={c.unit or 'NONE'}": 1.0, f"mag={_magnitude(c.value)}": 1.0}
    if c.approx:
        f["approx"] = 1.0
    if c.chinese:
        f["chinese_numeral"] = 1.0
    if not left.strip(" “”\"「」"):
        f["number_first"] = 1.0
    if c.clause_end == c.unit_end:
        f["clause_ends_at_unit"] = 1.0
    if _COUNT.search(prev):
        f["prev_has_count"] = 1.0
    if _COUNT.search(text, c.sent_start, c.clause_start):
        f["earlier_count_in_sentence"] = 1.0
    # what the figure is followed by
    nxt = text[c.unit_end:c.unit_end + 1]
    f[f"next={nxt or 'END'}"] = 1.0
    prev_char = text[c.num_start - 1:c.num_start]
    f[f"pc={prev_char or 'START'}"] = 1.0
    f[f"pc2={text[max(0, c.num_start - 2):c.num_start]}"] = 1.0
    # tokens of the clause before the figure (nearest first) and after it
    for i, t in enumerate(reversed(left_toks[-3:])):
        f[f"L{i + 1}={t}"] = 1.0
    for t in left_toks:
        f[f"L={t}"] = 1.0
    for t in right_toks[:3]:
        f[f"R={t}"] = 1.0
    if right_toks:
        f[f"R1={right_toks[0]}"] = 1.0
    # keyword groups by place: one pass over the sentence's hits (in KEYWORDS order, then
    # text order), each place keeping its groups in that order, once each
    cs, ns, ue, ce, ss = c.clause_start, c.num_start, c.unit_end, c.clause_end, c.sent_start
    ps = c.prev_clause_start
    prev_end = max(ps, cs - 1)
    left_groups: list[str] = []
    right_groups: list[str] = []
    prev_groups: list[str] = []
    sent_groups: list[str] = []
    # the channel whose keyword ends closest before the figure (ties: the longer word)
    near = near_sent = None
    near_key = near_sent_key = (-1, 0)
    last_part = -1  # end of the last 其中 before the figure
    for _, s, e, g in hits:
        if e <= ns:
            if ss <= s:
                if not sent_groups or sent_groups[-1] != g:
                    sent_groups.append(g)
                if g in CHANNEL_GROUPS and (e, -s) > near_sent_key:
                    near_sent, near_sent_key = g, (e, -s)
                if cs <= s:
                    if not left_groups or left_groups[-1] != g:
                        left_groups.append(g)
                    if g in CHANNEL_GROUPS and (e, -s) > near_key:
                        near, near_key = g, (e, -s)
        elif ue <= s and e <= ce and (not right_groups or right_groups[-1] != g):
            right_groups.append(g)
        if ps <= s and e <= prev_end and (not prev_groups or prev_groups[-1] != g):
            prev_groups.append(g)
        if g == "part" and ss <= s < ns and e > last_part:
            last_part = e
    unit = c.unit or "NONE"
    for g in left_groups:
        f[f"KL={g}"] = 1.0
        f[f"U&KL={unit}&{g}"] = 1.0  # 播出…期 (episodes) is not 播出…条 (news items)
    for g in prev_groups:
        f[f"KP={g}"] = 1.0
    for g in right_groups:
        f[f"KR={g}"] = 1.0
    for g in set(left_groups) | set(right_groups):
        f[f"KC={g}"] = 1.0  # in the figure's clause, before or after it (word order varies)
    for g in sent_groups:
        f[f"KS={g}"] = 1.0
    # 其中工作动态96条 is a topic breakdown; 其中，门户网站发布655条 is a channel part
    if last_part >= 0:
        named = _nearest_channel_before(hits, last_part, ns)
        f["part_then_channel" if named else "part_no_channel"] = 1.0
    named = [g for g in left_groups if g in CHANNEL_GROUPS] + [g for g in prev_groups if g in CHANNEL_GROUPS]
    if len(set(named)) >= 2:
        f["several_channels"] = 1.0  # 通过门户网站、政务新媒体等渠道…: a total over channels
    if near:
        f[f"NCL={near}"] = 1.0
    f[f"NCS={near_sent or 'none'}"] = 1.0
    return f


# --- the model ---------------------------------------------------------------------

@dataclass
class MetricModel:
    """Two fitted pipelines (DictVectorizer + linear classifier): type and channel."""

    type_model: Any = None
    channel_model: Any = None
    info: dict = field(default_factory=dict)
    _scorer: LinearScorer | None = field(default=None, init=False, repr=False, compare=False)

    def save(self, directory: Path) -> None:
        modelstore.save(Path(directory) / MODEL_FILE, {
            "type_model": modelstore.estimator_to_dict(self.type_model),
            "channel_model": modelstore.estimator_to_dict(self.channel_model),
            "info": self.info,
        })

    @classmethod
    def load(cls, directory: Path) -> MetricModel:
        data = modelstore.load(Path(directory) / MODEL_FILE)
        get_tokenizer()  # load jieba now, not on the first request
        return cls(type_model=modelstore.linear_pipeline(data["type_model"]),
                   channel_model=modelstore.linear_pipeline(data["channel_model"]),
                   info=data.get("info", {}))

    def predict(self, cands: list[Candidate]) -> list[tuple[str, str | None]]:
        """(type, channel) of each candidate; type ``none`` for figures that are not metrics."""
        return [(t, ch) for t, ch, _ in self.predict_scored(cands)]

    def predict_scored(self, cands: list[Candidate]) -> list[tuple[str, str | None, float]]:
        """(type, channel, confidence) of each candidate: the type model's probability
        for its type, times the channel model's for the channel of a published item."""
        if not cands or self.type_model is None:
            return [(NONE, None, 1.0)] * len(cands)
        if self._scorer is None:
            # the channel of every figure along with its type: once the features are
            # gathered, the channel model's few more columns cost next to nothing
            self._scorer = LinearScorer([m for m in (self.type_model, self.channel_model) if m is not None])
        scored = self._scorer.predict_with_proba([c.features for c in cands])
        types, type_probs = scored[0]
        channels, channel_probs = scored[1] if len(scored) > 1 else ([None] * len(types), [1.0] * len(types))
        return [(t, ch, round(tp * cp, 4)) if t == "published_items" else (t, None, round(tp, 4))
                for t, ch, tp, cp in zip(types, channels, type_probs, channel_probs)]


class LinearScorer:
    """``predict`` of DictVectorizer + linear classifier pipelines straight from their
    weights: one gather and one sum per document for all of them, without scikit-learn's
    per-call validation (which costs more than the arithmetic for a handful of rows).

    The pipelines share one vocabulary, the union of theirs; a name a model does not
    know weighs zero in it, as it would alone, so each model scores as it would alone.
    """

    def __init__(self, pipelines: list[Any]):
        self.vocabulary: dict[str, int] = {}
        for pipeline in pipelines:
            for name in pipeline.steps[0][1].vocabulary_:
                self.vocabulary.setdefault(name, len(self.vocabulary))
        # per model: its columns of the weights, intercept, classes, and whether it is
        # binary (one column of weights, for the second class)
        self.models: list[tuple[slice, np.ndarray, list[str], bool]] = []
        weights = []
        for pipeline in pipelines:
            vec, clf = pipeline.steps[0][1], pipeline.steps[-1][1]
            coef = np.asarray(clf.coef_, dtype=float)
            # feature × class, plus a zero row for names no model knows
            model_weights = np.zeros((len(self.vocabulary) + 1, coef.shape[0]))
            model_weights[[self.vocabulary[name] for name in vec.vocabulary_]] = coef.T[list(vec.vocabulary_.values())]
            first = sum(w.shape[1] for w in weights)
            self.models.append((slice(first, first + coef.shape[0]), np.asarray(clf.intercept_, dtype=float),
                                [str(c) for c in clf.classes_], coef.shape[0] == 1))
            weights.append(model_weights)
        self.weights = np.hstack(weights)

    def predict(self, rows: list[dict[str, float]]) -> list[list[str]]:
        """The label of each row, by each model."""
        return [labels for labels, _ in self.predict_with_proba(rows)]

    def predict_with_proba(self, rows: list[dict[str, float]]) -> list[tuple[list[str], list[float]]]:
        """Per model: the label of each row and the model's probability for it (a
        logistic regression's softmax or sigmoid)."""
        if not rows:
            return [([], []) for _ in self.models]
        get = self.vocabulary.get
        unknown = len(self.vocabulary)  # a zero row of weights, for names the model does not know
        rows = [row or {"": 0.0} for row in rows]  # reduceat cannot sum an empty row
        n = sum(map(len, rows))
        # (C-level iteration: map/chain instead of comprehensions)
        cols = np.fromiter(map(get, chain.from_iterable(rows), repeat(unknown)), np.intp, n)
        vals = np.fromiter(chain.from_iterable(map(dict.values, rows)), float, n)
        starts = np.fromiter(accumulate(map(len, rows[:-1]), initial=0), np.intp, len(rows))
        sums = np.add.reduceat(self.weights[cols] * vals[:, None], starts, axis=0)
        out = []
        for columns, intercept, classes, binary in self.models:
            scores = sums[:, columns] + intercept
            if binary:
                positive = 1.0 / (1.0 + np.exp(-scores[:, 0]))
                picks = (scores[:, 0] > 0).astype(int)
                probs = np.where(picks == 1, positive, 1.0 - positive)
            else:
                shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
                picks = scores.argmax(axis=1)
                probs = shifted[np.arange(len(picks)), picks] / shifted.sum(axis=1)
            out.append(([classes[i] for i in picks.tolist()], probs.tolist()))
        return out


# --- evidence spans ------------------------------------------------------------------

def _first_keyword(text: str, groups: tuple[str, ...]) -> int | None:
    """Offset of the first keyword of ``groups`` in ``text``, outside quoted names (“青阳发布”)."""
    quoted = [(m.start(), m.end()) for m in _QUOTED.finditer(text)] if "“" in text or '"' in text \
        or "《" in text else []
    pattern = _keywords_of(groups)
    m = pattern.search(text)
    while m is not None:  # every position a keyword starts at, from the left
        p = m.start()
        if not any(s <= p < e for s, e in quoted):
            return p
        m = pattern.search(text, p + 1)
    return None


@lru_cache(maxsize=64)
def _keywords_of(groups: tuple[str, ...]) -> re.Pattern:
    # (an alternation the regex engine skips to by its first characters; a lookahead
    # would be tried at every character)
    words = sorted({w for g in groups for w in KEYWORDS[g]})
    return re.compile("|".join(map(re.escape, words))) if words else re.compile("(?!)")


#: The keyword groups naming each channel, where a published item's span may start.
_CHANNEL_ANCHORS = {channel: tuple(g for g, ch in CHANNEL_GROUPS.items() if ch == channel)
                    for channel in CHANNEL_GROUPS.values()}


def _span_prefix(text: str, start: int, floor: int) -> str | None:
    """The one word of ``_SPAN_PREFIXES`` ending at ``start`` and starting at ``floor`` or later."""
    for n in _SPAN_PREFIX_LENGTHS:
        if start - n >= floor and text[start - n:start] in _SPAN_PREFIX_SET:
            return text[start - n:start]
    return None


_QUOTED = re.compile("“[^”]{0,20}”|\"[^\"]{0,20}\"|《[^》]{0,30}》")


def evidence_span(c: Candidate, mtype: str, channel: str | None) -> tuple[int, int]:
    """View offsets of the evidence: first channel/keyword of the clause to the unit end."""
    text = c.block.text
    left = text[c.clause_start:c.num_start]
    start = c.num_start
    anchor = _first_keyword(left, _TYPE_ANCHORS.get(mtype, ()))
    if anchor is not None:
        start = c.clause_start + anchor
    wanted = _CHANNEL_ANCHORS.get(channel, ()) if channel else _TYPE_ANCHORS.get(mtype, ())
    if wanted and left.strip() and _first_keyword(left, wanted) is None \
            and c.prev_clause_start < c.clause_start:
        # the channel (or subject) is named one clause before: 发挥…微信公众号…作用，全年推送…1025条
        prev = text[c.prev_clause_start:c.clause_start]
        p = _first_keyword(prev, wanted)
        if p is not None:
            start = c.prev_clause_start + p
    for _ in range(_MAX_PREFIXES):  # 行政|处罚, 召开|新闻|发布会
        prefix = _span_prefix(text, start, c.prev_clause_start)
        if prefix is None or start >= c.num_start:
            break
        start -= len(prefix)
    end = c.unit_end
    right = text[c.unit_end:c.clause_end]
    # 192篇通知公告 / 受理104件依申请公开: what is counted is named after the figure
    if 0 < len(right) <= _RIGHT_EXTENSION and not any(ch.isdigit() for ch in fold(right)) and (
            start == c.num_start or any(w in right for w in KEYWORDS["apply"])):
        end = c.clause_end
    while end > c.unit_end and text[end - 1] in _QUOTES:
        end -= 1
    while start < c.num_start and text[start] in _QUOTES:
        start += 1
    return start, end


# --- the stage ---------------------------------------------------------------------------

def extract_metrics(doc: Document, sections: list[Section], model: MetricModel) -> list[Metric]:
    """Every prose metric of ``doc`` in text order; never raises on odd input.

    ``sections`` is accepted for the stage interface; running text is told from tables
    line by line (and by ``doc.tables``), so a wrong or missing segmentation loses nothing.
    """
    try:
        cands = find_candidates(doc, sections)
        if not cands:
            return []
        featurise(cands)
        labels = model.predict_scored(cands)
    except (ValueError, IndexError, KeyError):  # a malformed text or model: report nothing
        return []
    out: list[Metric] = []
    for c, (mtype, channel, confidence) in zip(cands, labels):
        if mtype == NONE:
            continue
        vs, ve = evidence_span(c, mtype, channel)
        start, end = c.block.source_span(vs, ve)
        value = c.value
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        out.append(Metric(type=mtype, channel=channel if mtype == "published_items" else None,
                          value=value, unit=c.unit, start=start, end=end, text=doc.text[start:end],
                          confidence=confidence))
    return out
