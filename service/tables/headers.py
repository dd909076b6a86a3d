"""Column headers: which column a header cell names, and the column order a
table's (possibly multi-row, merged, permuted or abbreviated) header spells out.

Column names are a closed, short vocabulary, so they are matched against the
template's labels and their common abbreviations (exact, then containment, then
fuzzy for typos); the row labels, an open vocabulary, are left to the classifier.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rapidfuzz import fuzz

from service.numbers import fold
from service.template import APPLICANT_COLUMNS, REVIEW_COLUMNS, REVIEW_GROUPS

#: Header wording → column key (``@`` marks a group header spanning columns).
COLUMN_NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "applications": {
        "natural_person": ("自然人", "公民", "个人"),
        "commercial": ("商业企业", "商业", "企业"),
        "research": ("科研机构", "科研"),
        "social_welfare": ("社会公益组织", "公益组织", "社会公益", "公益"),
        "legal_service": ("法律服务机构", "法律服务", "法律"),
        "other_org": ("其他", "其它", "其他组织"),
        "total": ("总计", "合计", "总数"),
        "@org": ("法人或其他组织", "法人或者其他组织", "法人和其他组织", "法人"),
        "@applicant": ("申请人情况",),
    },
    "active_disclosure": {
        "issued": ("本年制发件数", "制发件数", "本年制发", "制发"),
        "repealed": ("本年废止件数", "废止件数", "本年废止", "废止"),
        "in_force": ("现行有效件数", "现行有效", "有效件数"),
        "decisions": ("本年处理决定数量", "处理决定数量", "处理决定数", "处理决定", "决定数量"),
        "amount": ("本年收费金额单位万元", "本年收费金额", "收费金额", "采购总金额", "总金额", "金额"),
        "made": ("本年新制作数量", "新制作数量", "新制作", "制作数量"),
        "published": ("本年新公开数量", "新公开数量", "新公开"),
        "total_public": ("对外公开总数量", "对外公开总数", "公开总数量", "对外公开"),
        "prev_year_items": ("上一年项目数量", "上年项目数量", "上一年项目数", "上一年"),
        "change": ("本年增减", "增减", "增加减少"),
        "projects": ("采购项目数量", "采购项目数", "采购项目"),
    },
    "review_litigation": {
        "maintained": ("结果维持", "维持"),
        "corrected": ("结果纠正", "纠正"),
        "other": ("其他结果", "其它结果", "其他"),
        "pending": ("尚未审结", "未审结", "审结"),
        "total": ("总计", "合计"),
        "@review": ("行政复议",),
        "@litigation": ("行政诉讼",),
        "@litigation_direct": ("未经复议直接起诉", "直接起诉"),
        "@litigation_after_review": ("复议后起诉",),
    },
}

#: Words that mark a row as header or group furniture, not data.
_HEADER_WORDS = re.compile(r"信息内容|第二十条|申请人情况|勾稽关系|^类别$|^数据\d+$|^项目$|^序号$|^指标$")
_NOISE = re.compile(r"\[bookmark:[^\]]*\]|[\s\W_]+")

ORG_COLUMNS = APPLICANT_COLUMNS[1:6]


@lru_cache(maxsize=8192)  # a cell is asked about once per table
def norm_header(text: str) -> str:
    """Header text folded, without spaces, punctuation or artefacts."""
    return _NOISE.sub("", fold(text))


#: Per table: the longest text that can match a synonym (by containment, or fuzzily:
#: see below).
_LONGEST = {table: max(len(syn) for syns in names.values() for syn in syns)
            for table, names in COLUMN_NAMES.items()}
_MATCHABLE = {table: max(n + 6, n * 3 // 2) for table, n in _LONGEST.items()}
_FUZZY_CUTOFF = 80


#: Per table: every synonym → its column (the first column naming it), and the
#: synonyms longest first (containment prefers the longest; ties keep template order).
_EXACT = {table: {syn: key for key, syns in reversed(names.items()) for syn in reversed(syns)}
          for table, names in COLUMN_NAMES.items()}
_BY_LENGTH = {table: sorted(((syn, key) for key, syns in names.items() for syn in syns),
                            key=lambda item: -len(item[0]))
              for table, names in COLUMN_NAMES.items()}


@lru_cache(maxsize=256)
def _fuzzy_candidates(table: str, length: int) -> tuple[tuple[str, str], ...]:
    """The synonyms fuzz.ratio can match a text of ``length`` with, at the cutoff:
    fuzz.ratio = 200·LCS / (len(s) + len(syn)) reaches it only when neither is more
    than 1.5 times the other."""
    return tuple((syn, key) for key, syns in COLUMN_NAMES[table].items() for syn in syns
                 if len(syn) >= 3 and 2 * length <= 3 * len(syn) and 2 * len(syn) <= 3 * length)


@lru_cache(maxsize=8192)
def match_column(text: str, table: str, exact: bool = False) -> str | None:
    """The column key (or ``@group``) a header cell names in ``table``, else None."""
    s = norm_header(text)
    if not s:
        return None
    key = _EXACT[table].get(s)
    if key is not None:
        return key
    if exact or len(s) > _MATCHABLE[table]:
        return None  # (a sentence of prose, not a header cell: nothing below can match)
    for syn, key in _BY_LENGTH[table]:  # the longest synonym within 6 characters of s
        if len(s) > len(syn) + 6:
            break  # (and every later synonym is shorter)
        if syn in s:
            return key
    if len(s) >= 3:
        score, key = max(((fuzz.ratio(s, syn, score_cutoff=_FUZZY_CUTOFF), key)
                          for syn, key in _fuzzy_candidates(table, len(s))), default=(0, None))
        if score >= _FUZZY_CUTOFF:
            return key
    return None


@lru_cache(maxsize=4096)
def _header_items(text: str, table: str) -> tuple[str, ...]:
    return tuple(header_items(text, table))


def header_items(text: str, table: str) -> list[str]:
    """Column keys one header cell names; a space-separated header line names several."""
    tokens = fold(text).split()
    if len(tokens) < 2:
        key = match_column(text, table)
        return [key] if key is not None else []
    key = match_column(text, table, exact=True)
    if key is not None:
        return [key]
    # Several names on one line ("结果 维持 结果 纠正 …"): exact names over runs of
    # tokens first (a name may hold a space), else one token matched loosely.
    items, i = [], 0
    while i < len(tokens):
        for j in range(min(len(tokens), i + 3), i, -1):
            key = match_column("".join(tokens[i:j]), table, exact=True)
            if key is not None:
                items.append(key)
                i = j
                break
        else:
            key = match_column(tokens[i], table)
            if key is not None:
                items.append(key)
            i += 1
    return items


def row_items(texts: list[str], table: str) -> list[str]:
    return [k for t in texts for k in _header_items(t, table)]


def is_header_row(texts: list[str]) -> bool:
    """Whether label cells (no figures) are column headers or table furniture."""
    return _is_header_row(tuple(texts))


_MATCHABLE_ANY = max(_MATCHABLE.values())


@lru_cache(maxsize=4096)
def _is_header_row(texts: tuple[str, ...]) -> bool:
    norms = [norm_header(t) for t in texts]
    if any(_HEADER_WORDS.search(n) for n in norms):
        return True
    if all(len(n) > _MATCHABLE_ANY and len(t.split()) < 2 for n, t in zip(norms, texts)):
        return False  # lines of prose: too long to name any column
    for table in COLUMN_NAMES:
        items = row_items(list(texts), table)
        if len(set(items)) >= 2:
            return True
    return False


def _complete(order: list[str], template: tuple[str, ...]) -> list[str] | None:
    """Insert template columns the header did not name at their template place."""
    seen = list(dict.fromkeys(k for k in order if k in template))
    for i, key in enumerate(template):
        if key not in seen:
            # after the nearest preceding template key already placed
            before = [k for k in template[:i] if k in seen]
            pos = seen.index(before[-1]) + 1 if before else 0
            seen.insert(pos, key)
    return seen if sorted(seen) == sorted(template) else None


def applicant_order(header_rows: list[list[str]]) -> list[str] | None:
    """Table 3's column order as its header spells it, or None when it does not say."""
    rows = [row_items(r, "applications") for r in header_rows]
    leaves = set(APPLICANT_COLUMNS)
    for items in rows:  # a flat header naming (nearly) every column
        named = [k for k in items if k in leaves]
        if len(set(named)) >= 6:
            if "@org" in items:
                # the two header rows on one line (自然人 法人或其他组织 总计 商业企业 … 其他):
                # the organisation kinds stand where their group is named
                at = items.index("@org")
                others = [k for k in named if k not in ORG_COLUMNS]
                before = [k for k in others if k in items[:at]]
                if "@applicant" in items and items[items.index("@applicant") + 1:][:1] == ["total"]:
                    # the template's three header rows on one line: 申请人情况 … 总计 is the
                    # first (总计 spans all three rows, so it is read first), the last column
                    before = [k for k in before if k != "total"]
                named = before + [k for k in named if k in ORG_COLUMNS] + [k for k in others if k not in before]
            return _complete(named, APPLICANT_COLUMNS)
    top = next((items for items in rows
                if len({"natural_person", "@org", "total"} & set(items)) >= 2
                or ("natural_person" in items and "@org" in items)), None)
    org = next((items for items in rows if len(set(ORG_COLUMNS) & set(items)) >= 3), None)
    if top is None and org is None:
        return None
    org_order = _complete([k for k in (org or []) if k in ORG_COLUMNS], ORG_COLUMNS) or list(ORG_COLUMNS)
    order: list[str] = []
    for key in top or ["natural_person", "@org", "total"]:
        if key == "@org":
            order.extend(org_order)
        elif key in leaves and key not in ORG_COLUMNS:
            order.append(key)
    if not any(k in order for k in ORG_COLUMNS):
        # the org kinds were named in a row of their own under a group we missed
        insert_at = order.index("total") if "total" in order else len(order)
        order[insert_at:insert_at] = org_order
    return _complete(order, APPLICANT_COLUMNS)


def active_order(header_texts: list[str]) -> list[str]:
    """Table 2 column keys a header row names, in reading order."""
    return [k for k in row_items(header_texts, "active_disclosure") if not k.startswith("@")]


def review_order(header_rows: list[list[str]]) -> tuple[list[str], dict[str, list[str]]]:
    """Table 4's group order and each group's column order, as the header spells them."""
    groups = list(REVIEW_GROUPS)
    items = [k for r in header_rows for k in row_items(r, "review_litigation")]
    named_groups = [k[1:] for k in items if k[1:] in REVIEW_GROUPS]
    if sorted(set(named_groups)) == sorted(groups) and len(named_groups) == 3:
        groups = named_groups
    leaves = [k for k in items if not k.startswith("@")]
    default = list(REVIEW_COLUMNS)
    orders = {g: default for g in groups}
    if len(leaves) == 15 and all(sorted(leaves[i:i + 5]) == sorted(default) for i in (0, 5, 10)):
        orders = {g: leaves[5 * i:5 * i + 5] for i, g in enumerate(groups)}
    elif len(leaves) >= 5 and sorted(leaves[:5]) == sorted(default):
        orders = {g: leaves[:5] for g in groups}
    return groups, orders
