"""Re-render a report's tables 2, 3 and 4 in the layouts real reports use, with exact gold.

Each variant replaces the table region of the three table sections with a new
rendering of (randomised but consistent) values: tab rows, one cell per line,
markdown, one small markdown table per row under generic headers, space
separated figures; labels split across cells, carried down from merged cells,
joined, leaf only, or parent rows of their own; numbering in other bracket
styles or dropped; bookmark artefacts, typos, dropped characters, spaces inside
words; wrapped labels with the figures on the next line, or (as PDF converters print
them) with the figures beside the label's head and its tail on the lines below; permuted and
abbreviated column headers; omitted rows; extra rows the template does not
know; table 4 as 15 figures on one line or one per line, or as three labelled
rows; full-width digits, thousands separators; blank, ``/``, ``—``, ``-``, ``无``
cells; page footers inside a table; the 2019 layout and the single
（六）其他处理 row.

The gold of a variant holds the rendered values (``null`` for a blank cell, the
raw string for a dash or 无), ``layout``, and ``provenance``: for every cell the
span of its figure in the new text (a zero-length span where a blank cell is).
Values respect the 勾稽关系 (row totals, results_total, the balance, table-4
totals) so that the audit can run on variants.
"""

from __future__ import annotations

import copy
import random
import re
from dataclasses import dataclass, field

from service.template import (
    ACTIVE_2019,
    ACTIVE_2021,
    APPLICANT_COLUMNS,
    OTHER_HANDLING_2019,
    REVIEW_COLUMNS,
    REVIEW_GROUPS,
    TABLE_KEYS,
    table_schema,
)
from training.augment import apply_edits
from training.corpus import AnnotatedReport

# --- what a table row says -------------------------------------------------------------

# Label paths of table 3: (level, number, text) from the outermost group to the row.
_RESULTS = (1, 3, "本年度办理结果")
_AP_PATHS: dict[str, list[tuple[int, int, str]]] = {
    "new_received": [(1, 1, "本年新收政府信息公开申请数量")],
    "carried_over": [(1, 2, "上年结转政府信息公开申请数量")],
    "granted": [_RESULTS, (2, 1, "予以公开")],
    "partially_granted": [_RESULTS, (2, 2, "部分公开（区分处理的，只计这一情形，不计其他情形）")],
}
_GROUPS_3 = {
    3: ("不予公开", ["denied_state_secret", "denied_prohibited_by_law", "denied_three_safeties",
                    "denied_third_party", "denied_internal_affairs", "denied_process_info",
                    "denied_enforcement_file", "denied_query"],
        ["属于国家秘密", "其他法律行政法规禁止公开", "危及“三安全一稳定”", "保护第三方合法权益",
         "属于三类内部事务信息", "属于四类过程性信息", "属于行政执法案卷", "属于行政查询事项"]),
    4: ("无法提供", ["unable_not_held", "unable_needs_creation", "unable_unclear"],
        ["本机关不掌握相关政府信息", "没有现成信息需要另行制作", "补正后申请内容仍不明确"]),
    5: ("不予处理", ["rejected_petition", "rejected_duplicate", "rejected_publication",
                    "rejected_excessive", "rejected_confirmation"],
        ["信访举报投诉类申请", "重复申请", "要求提供公开出版物", "无正当理由大量反复申请",
         "要求行政机关确认或重新出具已获取信息"]),
    6: ("其他处理", ["other_no_correction", "other_no_fee", "other_misc"],
        ["申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
         "申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请", "其他"]),
}
for _num, (_group, _keys, _texts) in _GROUPS_3.items():
    for _i, (_key, _text) in enumerate(zip(_keys, _texts)):
        _AP_PATHS[_key] = [_RESULTS, (2, _num, _group), (3, _i + 1, _text)]
#: The single （六）其他处理 row of the 2019 layout (and of some 2021 reports).
OTHER_HANDLING = OTHER_HANDLING_2019[0]
_AP_PATHS[OTHER_HANDLING] = [_RESULTS, (2, 6, "其他处理")]
_AP_PATHS["results_total"] = [_RESULTS, (2, 7, "总计")]
_AP_PATHS["carried_forward"] = [(1, 4, "结转下年度继续办理")]

_AP_ORDER_2021 = [k for k in _AP_PATHS if k != OTHER_HANDLING]
_AP_ORDER_2021.remove("results_total")
_AP_ORDER_2021.remove("carried_forward")
_AP_ORDER_2021 += ["results_total", "carried_forward"]
_RESULT_ROWS = [k for k in _AP_ORDER_2021 if k not in ("new_received", "carried_over", "results_total",
                                                       "carried_forward")]
_OTHER_THREE = ["other_no_correction", "other_no_fee", "other_misc"]

#: Natural shortenings of some row labels (the leaf text only).
_SHORT = {
    "new_received": ["本年新收申请数量", "本年新收政府信息公开申请"],
    "carried_over": ["上年结转申请数量", "上年结转政府信息公开申请"],
    "partially_granted": ["部分公开", "部分公开（区分处理的,只计这一情形,不计其他情形）"],
    "carried_forward": ["结转下年度继续办理申请", "结转下年度继续办理数量"],
    "denied_three_safeties": ["危及三安全一稳定", "危及\"三安全一稳定\""],
    "rejected_confirmation": ["要求行政机关确认或重新出具已获取的信息"],
}

#: Rows a report may add that the template does not know (never in gold).
_UNKNOWN_AP = ["其中：网上申请", "其中：当面申请", "其中：信函申请", "其中：通过网络平台提交",
               "（八）其他情形", "备注"]
_UNKNOWN_AD = ["行政确认", "行政裁决", "行政给付"]

_AP_COLUMN_NAMES = {
    "natural_person": ["自然人"],
    "commercial": ["商业企业", "商业"],
    "research": ["科研机构", "科研"],
    "social_welfare": ["社会公益组织", "公益组织"],
    "legal_service": ["法律服务机构", "法律服务"],
    "other_org": ["其他"],
    "total": ["总计", "合计"],
}
_AD_COLUMN_NAMES = {
    "issued": ["本年制发件数", "制发件数"], "repealed": ["本年废止件数", "废止件数"],
    "in_force": ["现行有效件数", "现行有效"], "decisions": ["本年处理决定数量", "处理决定数量"],
    "amount": ["本年收费金额（单位：万元）", "收费金额（万元）"],
    "made": ["本年新制作数量", "新制作数量"], "published": ["本年新公开数量", "新公开数量"],
    "total_public": ["对外公开总数量", "对外公开总数"], "prev_year_items": ["上一年项目数量", "上年项目数量"],
    "change": ["本年增/减", "本年增减"], "projects": ["采购项目数量"],
}
_PROCUREMENT_AMOUNT = ["采购总金额", "采购总金额（万元）"]
_RL_COLUMN_NAMES = {
    "maintained": ["结果维持", "结果 维持", "维持"], "corrected": ["结果纠正", "结果 纠正", "纠正"],
    "other": ["其他结果", "其他 结果"], "pending": ["尚未审结", "尚未 审结"], "total": ["总计", "合计"],
}
_RL_GROUP_LABELS = {
    "review": ["行政复议"],
    "litigation_direct": ["未经复议直接起诉", "行政诉讼（未经复议直接起诉）"],
    "litigation_after_review": ["复议后起诉", "行政诉讼（复议后起诉）"],
}
_AD_BLOCKS_2021 = [("第二十条第（一）项", ["regulations", "normative_documents"]),
                   ("第二十条第（五）项", ["licensing"]),
                   ("第二十条第（六）项", ["penalty", "coercion"]),
                   ("第二十条第（八）项", ["fees"])]
_AD_BLOCKS_2019 = [("第二十条第（一）项", ["regulations", "normative_documents"]),
                   ("第二十条第（五）项", ["licensing", "other_services"]),
                   ("第二十条第（六）项", ["penalty", "coercion"]),
                   ("第二十条第（八）项", ["fees"]),
                   ("第二十条第（九）项", ["procurement"])]
_CAPTION = "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"

STYLES = ("tab_rows", "cell_per_line", "markdown", "per_row_tables", "space_rows")
LABEL_MODES = ("split_first", "split_repeat", "joined", "joined_first", "leaf", "parent_rows")
RL_STYLES = ("grid", "space_line", "per_line", "group_rows")
_CN = "零一二三四五六七八九十"
_FULL = str.maketrans("0123456789,.", "０１２３４５６７８９，．")


# --- rendering machinery -------------------------------------------------------------------


@dataclass
class RCell:
    """A cell to write: its text and, for a figure, the gold cell it holds."""

    text: str
    cell: str | None = None  # "table.row.col"
    value: object = None


@dataclass
class RRow:
    cells: list[RCell]
    header: bool = False
    # "line": the label cells on a line of their own, the figures below; "split": the
    # label broken mid-word, its tail printed beside the figures
    wrap: str = ""


@dataclass
class Writer:
    parts: list[str] = field(default_factory=list)
    pos: int = 0
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)

    def write(self, s: str, cell: RCell | None = None, blank_at: int | None = None) -> None:
        if cell is not None and cell.cell is not None:
            if cell.text.strip():
                self.spans[cell.cell] = (self.pos, self.pos + len(cell.text))
            else:
                self.spans[cell.cell] = (blank_at if blank_at is not None else self.pos,) * 2
        self.parts.append(s)
        self.pos += len(s)

    def text(self) -> str:
        return "".join(self.parts)


def _label_cells(row: RRow) -> tuple[list[RCell], list[RCell]]:
    figures = [c for c in row.cells if c.cell is not None]
    first = row.cells.index(figures[0]) if figures else len(row.cells)
    return row.cells[:first], row.cells[first:]


def _serialise(rows: list[RRow], style: str, w: Writer, rng: random.Random) -> None:
    """Write rows in one layout; every figure's span lands in ``w.spans``."""
    md_separator_done = False
    for r_index, row in enumerate(rows):
        if r_index:
            # one small table per row: a blank line before each table's header
            blank_line = style == "cell_per_line" or (style == "per_row_tables" and row.header)
            w.write("\n\n" if blank_line else "\n")
        pieces = [row.cells]
        if row.wrap:
            labels, figures = _label_cells(row)
            last = labels[-1].text if labels else ""
            visible = len(last) - len(last.split("]")[-1])  # never cut inside a [bookmark: …]
            if row.wrap == "split" and style != "cell_per_line" and len(last) - visible >= 6:
                cut = rng.randrange(visible + 3, len(last) - 2)
                pieces = [labels[:-1] + [RCell(last[:cut])], [RCell(last[cut:])] + figures]
            elif row.wrap == "tail" and style == "space_rows" and len(last) - visible >= 12:
                # a PDF converter's line: the label's head beside the figures, the rest of
                # the label wrapped onto the lines below them (2.申请人逾期未按收费通 0 0 …
                # / 知要求缴纳费用、行政机 / 关不再处理其…)
                width = rng.randint(visible + 8, visible + 12)
                while width < len(last) and (last[width - 1].isdigit() or last[width] in ".．、"):
                    width += 1  # a row number (1.) is never torn from its mark
                tail = [last[i:i + width - visible] for i in range(width, len(last), width - visible)]
                pieces = [labels[:-1] + [RCell(last[:width])] + figures] + [[RCell(t)] for t in tail]
            elif labels and figures:
                pieces = [labels, figures]
        for p_index, cells in enumerate(pieces):
            if p_index:
                w.write("\n\n" if style == "cell_per_line" else "\n")
            if style == "tab_rows":
                for i, c in enumerate(cells):
                    if i:
                        w.write("\t")
                    w.write(c.text, c)
            elif style == "cell_per_line":
                for i, c in enumerate(cells):
                    if i:
                        w.write("\n")
                    w.write("\t")
                    w.write(c.text, c)
            elif style in ("markdown", "per_row_tables"):
                for c in cells:
                    w.write("|")
                    at = w.pos
                    w.write(" ")
                    w.write(c.text, c, blank_at=at)
                    w.write(" ")
                w.write("|")
                if row.header and not md_separator_done:
                    w.write("\n" + "|" + "|".join(" --- " for _ in cells) + "|")
                    md_separator_done = style == "markdown"
            else:  # space_rows
                first = True
                for c in cells:
                    if not c.text:
                        continue
                    if not first:
                        w.write(rng.choice(("  ", " ", "\u3000")) if c.cell is None else " ")
                    w.write(c.text, c)
                    first = False


# --- values ---------------------------------------------------------------------------------


def _small(rng: random.Random, high: int, zero: float = 0.55) -> int:
    return 0 if rng.random() < zero else rng.randint(1, high)


def _random_applications(rng: random.Random, rows: list[str]) -> dict[str, dict[str, int]]:
    """Table 3 values obeying row totals, results_total and the balance."""
    out: dict[str, dict[str, int]] = {k: {} for k in rows}
    results = [k for k in rows if k in _RESULT_ROWS or k == OTHER_HANDLING]
    for col in APPLICANT_COLUMNS[:-1]:
        high = 60 if col == "natural_person" else 6
        if col == "natural_person" and rng.random() < 0.15:
            high = 900
        zero = 0.4 if col == "natural_person" else 0.8
        for k in results:
            out[k][col] = _small(rng, high if k in ("granted", "unable_not_held") else max(1, high // 3), zero)
        total = sum(out[k][col] for k in results)
        forward = _small(rng, max(1, high // 4), 0.6)
        over = rng.randint(0, total + forward) if rng.random() < 0.5 else 0
        for key, value in (("results_total", total), ("carried_forward", forward),
                           ("carried_over", over), ("new_received", total + forward - over)):
            if key in out:
                out[key][col] = value
    for k in rows:
        out[k]["total"] = sum(out[k][c] for c in APPLICANT_COLUMNS[:-1])
    return out


def _random_review(rng: random.Random) -> dict[str, dict[str, int]]:
    out = {}
    for g in REVIEW_GROUPS:
        vals = {c: _small(rng, 12, 0.6) for c in REVIEW_COLUMNS[:-1]}
        vals["total"] = sum(vals.values())
        out[g] = vals
    return out


def _random_active(rng: random.Random, layout: str) -> dict[str, dict[str, int | float]]:
    out: dict[str, dict[str, int | float]] = {}
    schema = ACTIVE_2019 if layout == "2019" else ACTIVE_2021
    for key, (_, cols) in schema.items():
        vals: dict[str, int | float] = {}
        for col in cols:
            if col in ("amount",):
                vals[col] = 0 if rng.random() < 0.4 else round(rng.uniform(0.1, 300), rng.choice((1, 2)))
            elif col == "change":
                vals[col] = rng.randint(-20, 20)
            elif col in ("decisions", "prev_year_items") and key in ("licensing", "penalty"):
                vals[col] = rng.choice((rng.randint(0, 99), rng.randint(100, 30000)))
            elif col in ("in_force", "total_public"):
                vals[col] = rng.randint(0, 400)
            else:
                vals[col] = _small(rng, 40, 0.4)
        out[key] = vals
    return out


# --- one variant's choices -------------------------------------------------------------------


@dataclass
class Config:
    ad_style: str
    ap_style: str
    rl_style: str
    rl_grid_style: str
    label_mode: str
    numbering: tuple[str, str, str]  # styles of levels 1, 2, 3
    layout: str = "2021"
    other_single: bool = False       # print （六）其他处理 as one row
    randomise: bool = True
    omit: int = 0                    # rows left out of table 3
    omit_ad: int = 0
    unknown_rows: int = 0
    wrap_rate: float = 0.0
    noise_rate: float = 0.0          # typos, dropped characters, spaces inside words
    bookmark_rate: float = 0.0
    short_rate: float = 0.0
    permute: bool = False
    abbreviate: bool = False
    fullwidth: float = 0.0
    thousands: bool = False
    special_cells: int = 0
    footer: bool = False
    ad_pad: bool = False
    artefact_blanks: bool = False    # stray empty cells after labels / trailing tabs
    tags: list[str] = field(default_factory=list)


def _choose_config(rng: random.Random, i: int, source_layout: str = "2021") -> Config:
    """The choices of variant ``i`` of a report whose tables are in ``source_layout``."""
    ap_style = STYLES[i % len(STYLES)]
    cfg = Config(
        ad_style=rng.choice(STYLES) if rng.random() < 0.6 else ap_style,
        ap_style=ap_style,
        rl_style=RL_STYLES[(i // len(STYLES) + i) % len(RL_STYLES)],
        rl_grid_style=rng.choice(("tab_rows", "cell_per_line", "markdown")),
        label_mode=LABEL_MODES[i % len(LABEL_MODES)] if rng.random() < 0.8 else rng.choice(LABEL_MODES),
        numbering=(rng.choice(("cn", "cn_dot", "none")), rng.choice(("full", "half", "half_space", "none")),
                   rng.choice(("dot", "dun", "dot_space", "paren", "none"))),
    )
    if rng.random() < 0.4:
        cfg.numbering = ("cn", "full", "dot")
    # Most variants keep the report's own layout (so its own figures can be
    # reprinted); a quarter switch to the other layout, with figures made up.
    if rng.random() < 0.25:
        cfg.layout = "2019" if source_layout == "2021" else "2021"
    else:
        cfg.layout = source_layout
        # the 2019 layout has the single row anyway; a 2021 report sometimes prints it too
        if source_layout == "2021" and rng.random() < 0.2:
            cfg.other_single = True
    cfg.randomise = rng.random() < 0.8
    cfg.omit = rng.choice((0, 0, 0, 1, 2, 3))
    cfg.omit_ad = rng.choice((0, 0, 0, 0, 1))
    cfg.unknown_rows = rng.choice((0, 0, 0, 1, 2))
    cfg.wrap_rate = rng.choice((0.0, 0.0, 0.15, 0.5, 1.0))
    cfg.noise_rate = rng.choice((0.0, 0.0, 0.1, 0.3))
    cfg.bookmark_rate = rng.choice((0.0, 0.0, 0.3))
    cfg.short_rate = rng.choice((0.0, 0.0, 0.3))
    cfg.permute = rng.random() < 0.35
    cfg.abbreviate = rng.random() < 0.35
    cfg.fullwidth = rng.choice((0.0, 0.0, 0.0, 0.3, 1.0))
    cfg.thousands = rng.random() < 0.5
    cfg.special_cells = rng.choice((0, 0, 0, 1, 3, 6))
    cfg.footer = rng.random() < 0.3
    cfg.ad_pad = rng.random() < 0.5
    cfg.artefact_blanks = rng.random() < 0.3
    return cfg


# --- labels ------------------------------------------------------------------------------------


def _number(level: int, n: int, style: str) -> str:
    cn = _CN[n] if n <= 10 else str(n)
    if level == 1:
        return {"cn": f"{cn}、", "cn_dot": f"{cn}.", "none": ""}[style]
    if level == 2:
        return {"full": f"（{cn}）", "half": f"({cn})", "half_space": f"({cn}) ", "none": ""}[style]
    return {"dot": f"{n}.", "dun": f"{n}、", "dot_space": f"{n}. ", "paren": f"（{n}）", "none": ""}[style]


def _noisy(text: str, rng: random.Random) -> str:
    """A typo a real report might carry: a dropped, doubled or spaced character."""
    if len(text) < 4:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.choice(("drop", "space", "double", "swap"))
    if kind == "drop":
        return text[:i] + text[i + 1:]
    if kind == "space":
        return text[:i] + " " + text[i:]
    if kind == "double":
        return text[:i] + text[i] + text[i:]
    return text[:i - 1] + text[i] + text[i - 1] + text[i + 1:]


def _bookmark(rng: random.Random) -> str:
    return rng.choice((f"[bookmark: _Hlk{rng.randint(10**7, 10**8)}]", "[bookmark: _GoBack]"))


# --- the three tables ------------------------------------------------------------------------


@dataclass
class Rendered:
    text: str
    spans: dict[str, tuple[int, int]]  # "table.row.col" -> span of the figure in ``text``


class _Cells:
    """Formats figures the way this variant prints them and picks the special ones."""

    def __init__(self, cfg: Config, rng: random.Random, special: set[str], style: str):
        self.cfg, self.rng, self.special, self.style = cfg, rng, special, style

    def cell(self, table: str, row: str, col: str, value: object, allow_blank: bool = True) -> RCell:
        name = f"{table}.{row}.{col}"
        if value is None and allow_blank and self.style != "space_rows":
            return RCell("", name, None)  # a cell the report left blank stays blank
        # A blank that cannot be printed where it is (it would shift the figures after it)
        # is printed as a dash or 无 instead, and the gold takes that raw string.
        if name in self.special or value is None:
            options = ["/", "—", "-", "无"] + ([""] * 3 if allow_blank and self.style != "space_rows" else [])
            raw = self.rng.choice(options)
            return RCell(raw, name, raw if raw else None)
        if isinstance(value, float):
            short = f"{value:.2f}".rstrip("0").rstrip(".")
            # (never rounded: the printed figure must be the gold value, 12.345 too)
            text = short if self.rng.random() < 0.5 and float(short) == value else f"{value}"
        elif isinstance(value, int) and abs(value) >= 1000 and self.cfg.thousands:
            text = f"{value:,}"
        else:
            text = str(value)
        if isinstance(value, int) and col == "change" and value > 0 and self.rng.random() < 0.5:
            text = "+" + text
        if self.cfg.fullwidth and self.rng.random() < self.cfg.fullwidth:
            text = text.translate(_FULL)
        return RCell(text, name, value)


def _render_applications(values: dict[str, dict[str, int]], rows: list[str], cfg: Config,
                         rng: random.Random, fmt: _Cells, own_labels: dict[str, str]) -> list[RRow]:
    style = cfg.ap_style
    order = list(APPLICANT_COLUMNS)
    top = ["natural_person", "@org", "total"]
    orgs = list(APPLICANT_COLUMNS[1:6])
    # Space-separated text sometimes loses the header; the order is then the template's.
    headless = style == "space_rows" and rng.random() < 0.3
    # A PDF converter wraps every long label the same way (head beside the figures, tail
    # below); other texts put a label above its figures or break it mid-word.
    wraps = ("tail",) if style == "space_rows" and rng.random() < 0.4 else ("line", "split")
    if cfg.permute and not headless:
        rng.shuffle(orgs)
        if rng.random() < 0.5:
            rng.shuffle(top)
    order = [k for t in top for k in (orgs if t == "@org" else [t])]

    def col_name(key: str) -> str:
        names = _AP_COLUMN_NAMES[key]
        name = rng.choice(names) if cfg.abbreviate else names[0]
        if style == "cell_per_line" and len(name) == 4 and rng.random() < 0.3:
            name = name[:2] + "\n" + name[2:]
        return name

    out: list[RRow] = []
    flat = style in ("markdown", "space_rows") or rng.random() < 0.3
    if style == "per_row_tables":
        header = None
        order = list(APPLICANT_COLUMNS)
    elif flat:
        header = [RRow([RCell(rng.choice(("", "类别", "项目")))] + [RCell(col_name(k)) for k in order],
                       header=True)]
    else:
        pad = [RCell("")] if style != "space_rows" else []
        header = [
            RRow([RCell(_CAPTION), RCell("申请人情况")], header=True),
            RRow(pad + [RCell(col_name(k) if k != "@org" else "法人或其他组织") for k in top], header=True),
            RRow(pad * 2 + [RCell(col_name(k)) for k in orgs] + pad, header=True),
        ]
    if header and not headless:
        out.extend(header)

    mode = cfg.label_mode
    if style == "per_row_tables" and mode in ("split_first", "parent_rows"):
        mode = "joined"
    styles = cfg.numbering
    prev_path: list[tuple[int, int, str]] = []
    for key in rows:
        if key.startswith("?"):  # a row the template does not know: no gold cells
            base = values[key]
            out.append(RRow([RCell(key[1:])] + [RCell(str(base[c])) for c in order]))
            continue
        path = list(_AP_PATHS[key])
        parts = []
        for depth, (level, n, text) in enumerate(path):
            if depth == len(path) - 1:
                if key in own_labels and rng.random() < 0.5:
                    text = own_labels[key]
                elif key in _SHORT and rng.random() < cfg.short_rate:
                    text = rng.choice(_SHORT[key])
                if rng.random() < cfg.noise_rate:
                    text = _noisy(text, rng)
            part = _number(level, n, styles[level - 1]) + text
            if depth == len(path) - 1 and rng.random() < cfg.bookmark_rate:
                part = _bookmark(rng) + part
            parts.append(part)
        shared = 0
        while shared < min(len(path), len(prev_path)) - 0 and path[shared] == prev_path[shared]:
            shared += 1
        shared = min(shared, len(path) - 1)
        prev_path = path
        if mode == "parent_rows":
            for depth in range(shared, len(path) - 1):
                out.append(RRow([RCell(parts[depth])]))
            labels = [RCell(parts[-1])]
        elif mode == "split_first":
            labels = [RCell("" if d < shared else p) for d, p in enumerate(parts)]
        elif mode == "split_repeat":
            labels = [RCell(p) for p in parts]
        elif mode == "joined":
            labels = [RCell(rng.choice(("", " ")).join(parts))]
        elif mode == "joined_first":
            labels = [RCell(" ".join(parts[shared:]))]
        else:  # leaf
            labels = [RCell(parts[-1])]
        if style == "space_rows":
            labels = [c for c in labels if c.text] or labels
        wrap = rng.choice(wraps) if rng.random() < cfg.wrap_rate else ""
        figures = [fmt.cell("applications", key, c, values[key][c], allow_blank=not wrap) for c in order]
        cells = labels + figures
        if (cfg.artefact_blanks and style == "tab_rows" and not wrap
                and all(f.text for f in figures)):
            if len(labels) == 1 and rng.random() < 0.5:
                cells = labels + [RCell("")] + figures
            if rng.random() < 0.5:
                cells = cells + [RCell("")]
        if style == "per_row_tables":
            generic = ["类别"] + [f"数据{i}" for i in range(1, 7)] + ["总计"]
            out.append(RRow([RCell(g) for g in generic], header=True))
        out.append(RRow(cells, wrap=wrap))
    return out


def _render_active(values: dict[str, dict], layout: str, rows: set[str], cfg: Config,
                   rng: random.Random, fmt: _Cells) -> list[RRow]:
    style = cfg.ad_style
    blocks = _AD_BLOCKS_2019 if layout == "2019" else _AD_BLOCKS_2021
    schema = ACTIVE_2019 if layout == "2019" else ACTIVE_2021
    out: list[RRow] = []
    width = 4
    unknown = [u for u in _UNKNOWN_AD if rng.random() < 0.5][:1] if cfg.unknown_rows else []
    for b_index, (group, keys) in enumerate(blocks):
        cols = list(schema[keys[0]][1])
        # (one small table per row prints generic headers: the order cannot be told)
        if cfg.permute and len(cols) > 1 and style != "per_row_tables":
            rng.shuffle(cols)

        def pad(cells: list[RCell]) -> list[RCell]:
            if cfg.ad_pad and style in ("tab_rows", "cell_per_line", "markdown"):
                return cells + [RCell("") for _ in range(width - len(cells))]
            return cells

        if style != "per_row_tables":
            if rng.random() < 0.85:
                out.append(RRow(pad([RCell(group)]), header=True))
            names = []
            for c in cols:
                options = _PROCUREMENT_AMOUNT if (c == "amount" and "procurement" in keys) else _AD_COLUMN_NAMES[c]
                names.append(rng.choice(options) if cfg.abbreviate else options[0])
            out.append(RRow(pad([RCell("信息内容")] + [RCell(n) for n in names]), header=True))
        for key in keys:
            if key not in rows:
                continue
            label = schema[key][0]
            if key == "normative_documents" and layout == "2021" and rng.random() < 0.2:
                label = "规范性文件"
            if rng.random() < cfg.noise_rate:
                label = _noisy(label, rng)
            if rng.random() < cfg.bookmark_rate:
                label = _bookmark(rng) + label
            wrap = "line" if rng.random() < cfg.wrap_rate * 0.5 else ""
            figures = [fmt.cell("active_disclosure", key, c, values[key][c], allow_blank=not wrap) for c in cols]
            if style == "per_row_tables":
                out.append(RRow([RCell("类别")] + [RCell(f"数据{i + 1}") for i in range(len(cols))],
                                header=True))
            out.append(RRow(pad([RCell(label)] + figures), wrap=wrap))
        if unknown and b_index == 2:
            label = unknown.pop()
            out.append(RRow(pad([RCell(label), RCell(str(rng.randint(0, 50)))])))
    return out


def _render_review(values: dict[str, dict[str, int]], cfg: Config, rng: random.Random,
                   fmt: _Cells) -> tuple[list[RRow], str]:
    """Table 4 rows and the style its figures row is written in."""
    leaves = list(REVIEW_COLUMNS)
    if cfg.permute:
        rng.shuffle(leaves)
    grid = cfg.rl_grid_style

    def leaf(c: str) -> str:
        names = _RL_COLUMN_NAMES[c]
        name = rng.choice(names) if cfg.abbreviate or rng.random() < 0.3 else names[0]
        if grid == "cell_per_line" and " " in name and rng.random() < 0.5:
            name = name.replace(" ", "\n")
        return name

    groups = list(REVIEW_GROUPS)
    if cfg.rl_style == "group_rows":
        header = RRow([RCell(rng.choice(("", "类别", "项目")))] + [RCell(leaf(c)) for c in leaves], header=True)
        rows = [header]
        for g in groups:
            label = rng.choice(_RL_GROUP_LABELS[g])
            rows.append(RRow([RCell(label)] + [fmt.cell("review_litigation", g, c, values[g][c])
                                               for c in leaves]))
        return rows, grid
    blank5 = [RCell("") for _ in range(5)]
    rows = [
        RRow([RCell("行政复议")] + blank5[:4] + [RCell("行政诉讼")], header=True),
        RRow([RCell(leaf(c)) for c in leaves] + [RCell("未经复议直接起诉")] + blank5[:4]
             + [RCell("复议后起诉")], header=True),
        RRow(blank5 + [RCell(leaf(c)) for c in leaves] * 2, header=True),
    ]
    if grid != "tab_rows" or rng.random() < 0.5:
        # compact header rows as the one-cell-per-line seeds print them
        rows[0].cells = [RCell("行政复议"), RCell("行政诉讼")]
        rows[1].cells = [RCell(leaf(c)) for c in leaves] + [RCell("未经复议直接起诉"), RCell("复议后起诉")]
    allow_blank = cfg.rl_style == "grid"
    figures = [fmt.cell("review_litigation", g, c, values[g][c], allow_blank=allow_blank)
               for g in groups for c in leaves]
    rows.append(RRow(figures))
    return rows, grid


# --- putting a variant together -------------------------------------------------------------


_TABLE_START = re.compile(r"[^\n]*(\t|\|)[^\n]*")


def _table_region(text: str, section: dict) -> tuple[int, int] | None:
    """Where the table sits in its section: from its first tabbed/piped line to the end."""
    start, end = section["start"], section["end"]
    first_nl = text.find("\n", start, end)
    if first_nl < 0:
        return None
    m = _TABLE_START.search(text, first_nl + 1, end)
    if m is None:
        return None
    line_start = text.rfind("\n", 0, m.start() + 1) + 1
    stop = end
    # (a markdown heading's "## " before the next section's start is not table either)
    while stop > line_start and text[stop - 1] in " \r\n\u3000\f#":
        stop -= 1
    return (line_start, stop) if stop > line_start else None


def _own_labels(report: AnnotatedReport) -> dict[str, str]:
    """The report's own wording of table-3 row labels (leaf text, numbering removed)."""
    from training.train_tables import seed_row_labels

    out = {}
    for table, key, row in seed_row_labels(report):
        if table == "applications" and key in _AP_PATHS:
            text = row.label_text
            text = re.sub(r"\[bookmark:[^\]]*\]", "", text)
            text = re.sub(r"^\s*(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[)）]|\d+\s*[.、．])\s*",
                          "", text)
            if text and "\n" not in text:
                out[key] = text
    return out


def _special_cells(rng: random.Random, count: int, gold: dict[str, dict[str, dict]]) -> set[str]:
    names = [f"{t}.{r}.{c}" for t, rows in gold.items() for r, cols in rows.items() for c in cols]
    return set(rng.sample(names, min(count, len(names)))) if names else set()


def _insert_footer(rendered: str, rng: random.Random, style: str, spans: dict[str, tuple[int, int]]
                   ) -> tuple[str, dict[str, tuple[int, int]]]:
    """A page footer (a page break) between two rows of the table."""
    sep = "\n\n" if style == "cell_per_line" else "\n"
    cuts = [m.start() for m in re.finditer(re.escape(sep) + r"(?=[^\n])", rendered)]
    cuts = [c for c in cuts if c > len(rendered) // 4]
    if not cuts:
        return rendered, spans
    at = rng.choice(cuts)
    # the footer, and sometimes the form feed of the page break itself
    insert = sep + rng.choice(("-3-", "- 3 -", "— 4 —", "第 3 页", "-12-")) + rng.choice(("", "", "\f"))
    new = rendered[:at] + insert + rendered[at:]
    shift = len(insert)
    return new, {k: ((s + shift, e + shift) if s >= at else (s, e)) for k, (s, e) in spans.items()}


def _table_2_layout(active: dict[str, dict]) -> str:
    """The layout whose table-2 cells a gold holds (its columns tell, whatever ``layout`` says)."""
    cells = {(row, col) for row, cols in active.items() for col in cols}

    def held(layout: str) -> int:
        schema = table_schema("active_disclosure", layout)
        return sum((row, col) in cells for row, cols in schema.items() for col in cols)

    return "2019" if held("2019") > held("2021") else "2021"


def _fit_to_schema(rows: dict[str, dict], schema: dict[str, tuple[str, ...]],
                   all_rows: bool = False) -> dict[str, dict]:
    """A copy of a gold table holding exactly the schema's cells of the rows it has.

    Cells the schema does not have are dropped, cells the gold lacks become blank
    (None), so every printed cell has a gold value and every gold value is printed.
    With ``all_rows`` the rows the gold lacks are added, blank.  Each row keeps the
    gold's own column order (the random choice of special cells depends on it).
    """
    out: dict[str, dict] = {}
    for row, cols in schema.items():
        if row not in rows and not all_rows:
            continue
        values = rows.get(row) or {}
        kept = {col: copy.deepcopy(v) for col, v in values.items() if col in cols}
        kept.update({col: None for col in cols if col not in kept})
        out[row] = kept
    return out


def render_variant(report: AnnotatedReport, rng: random.Random, index: int = 0,
                   own_labels: dict[str, str] | None = None,
                   config: Config | None = None) -> AnnotatedReport | None:
    """One re-rendering of ``report``'s tables, or None when its tables cannot be located.

    ``config`` fixes the variant's choices (tests use it to render one layout family).
    """
    gold_tables = report.gold.get("tables") or {}
    sections = {s["key"]: s for s in report.gold.get("sections", [])}
    if not all(t in sections and t in gold_tables for t in TABLE_KEYS):
        return None
    regions = {t: _table_region(report.text, sections[t]) for t in TABLE_KEYS}
    if any(r is None for r in regions.values()):
        return None
    source_ad_layout = _table_2_layout(gold_tables["active_disclosure"])
    source_single_other = OTHER_HANDLING in gold_tables["applications"]
    cfg = config if config is not None else _choose_config(rng, index, source_ad_layout)
    own_labels = own_labels if own_labels is not None else {}

    # Rows and values.  The report's own figures are reprinted only into a table of
    # the same shape as its own; a table of the other layout gets made-up figures.
    layout = cfg.layout
    single_other = layout == "2019" or cfg.other_single
    if single_other:
        ap_rows = [k for k in _AP_ORDER_2021 if k not in _OTHER_THREE]
        ap_rows.insert(ap_rows.index("results_total"), OTHER_HANDLING)
    else:
        ap_rows = list(_AP_ORDER_2021)
    ap_schema = table_schema("applications", "2019" if single_other else "2021")
    omittable = [k for k in ap_rows if k in _RESULT_ROWS or k == OTHER_HANDLING]
    omitted = set(rng.sample(omittable, cfg.omit)) if cfg.omit else set()
    if cfg.randomise or single_other != source_single_other:
        ap_values = _random_applications(rng, [k for k in ap_rows if k not in omitted])
    else:
        ap_values = _fit_to_schema(gold_tables["applications"], ap_schema)
        # omitted rows must have been zero for the totals to stay right
        omitted = {k for k in omitted if not any(ap_values.get(k, {}).values())}
    rl_values = (_random_review(rng) if cfg.randomise
                 else _fit_to_schema(gold_tables["review_litigation"],
                                     table_schema("review_litigation"), all_rows=True))
    if cfg.randomise or layout != source_ad_layout:
        ad_values = _random_active(rng, layout)
    else:
        ad_values = _fit_to_schema(gold_tables["active_disclosure"], table_schema("active_disclosure", layout))
    ap_rows = [k for k in ap_rows if k not in omitted and k in ap_values]
    schema_ad = ACTIVE_2019 if layout == "2019" else ACTIVE_2021
    ad_rows = [k for k in schema_ad if k in ad_values]
    if cfg.omit_ad and ad_rows:
        ad_rows.remove(rng.choice(ad_rows))

    # Extra rows the template does not know (copies of a real row's figures scaled down).
    printed_ap = list(ap_rows)
    for _ in range(cfg.unknown_rows):
        label = rng.choice(_UNKNOWN_AP)
        anchor = rng.randrange(0, len(printed_ap) + 1)
        key = "?" + label
        ap_values[key] = {c: 0 for c in APPLICANT_COLUMNS}
        if "new_received" in ap_values and label.startswith("其中"):
            # (a blank or dash cell of the report's own row counts as 0 here)
            ap_values[key] = {c: v // 2 if isinstance(v, int) else 0
                              for c, v in ap_values["new_received"].items()}
            ap_values[key]["total"] = sum(ap_values[key][c] for c in APPLICANT_COLUMNS[:-1])
            anchor = printed_ap.index("new_received") + 1 if "new_received" in printed_ap else anchor
        if key not in printed_ap:
            printed_ap.insert(anchor, key)

    gold = {
        "active_disclosure": {k: dict(ad_values[k]) for k in ad_rows},
        "applications": {k: dict(ap_values[k]) for k in ap_rows},
        "review_litigation": {g: dict(rl_values[g]) for g in REVIEW_GROUPS},
    }
    special = _special_cells(rng, cfg.special_cells, gold)

    rendered: dict[str, Rendered] = {}
    for table in TABLE_KEYS:
        w = Writer()
        if table == "active_disclosure":
            fmt = _Cells(cfg, rng, special, cfg.ad_style)
            rows = _render_active(ad_values, layout, set(ad_rows), cfg, rng, fmt)
            style = cfg.ad_style
        elif table == "applications":
            fmt = _Cells(cfg, rng, special, cfg.ap_style)
            rows = _render_applications(ap_values, printed_ap, cfg, rng, fmt, own_labels)
            style = cfg.ap_style
        else:
            fmt = _Cells(cfg, rng, special, cfg.rl_grid_style)
            rows, style = _render_review(rl_values, cfg, rng, fmt)
        if table == "review_litigation" and cfg.rl_style in ("space_line", "per_line"):
            _serialise(rows[:-1], style, w, rng)
            w.write("\n\n" if style == "cell_per_line" else "\n")
            sep = " " if cfg.rl_style == "space_line" else "\n"
            for i, c in enumerate(rows[-1].cells):
                if i:
                    w.write(sep)
                w.write(c.text, c)
        else:
            _serialise(rows, style, w, rng)
        text, spans = w.text(), w.spans
        if cfg.footer and table == "applications":
            text, spans = _insert_footer(text, rng, style, spans)
        rendered[table] = Rendered(text, spans)

    # Gold from what was rendered (a blank printed as a dash holds the dash).
    for table, rows_gold in gold.items():
        for r, cols in rows_gold.items():
            for c in cols:
                name = f"{table}.{r}.{c}"
                if name in special or cols[c] is None:
                    cols[c] = _special_value(rendered[table], name)
    # Every gold cell must have been written.
    for table, rows_gold in gold.items():
        written = {tuple(k.split(".")[1:]) for k in rendered[table].spans}
        for r, cols in rows_gold.items():
            for c in cols:
                if (r, c) not in written:
                    raise AssertionError(f"cell {table}.{r}.{c} not rendered")

    edits = [(regions[t][0], regions[t][1], rendered[t].text) for t in TABLE_KEYS]
    tags = [f"ad:{cfg.ad_style}", f"ap:{cfg.ap_style}", f"rl:{cfg.rl_style}", f"labels:{cfg.label_mode}",
            f"numbering:{'-'.join(cfg.numbering)}"]
    tags += [name for name, on in (
        ("layout2019", layout == "2019"), ("other_single", cfg.other_single), ("randomised", cfg.randomise),
        ("omitted", bool(omitted) or bool(cfg.omit_ad)), ("unknown_rows", printed_ap != ap_rows),
        ("wrapped", cfg.wrap_rate > 0), ("typos", cfg.noise_rate > 0), ("bookmarks", cfg.bookmark_rate > 0),
        ("short_labels", cfg.short_rate > 0), ("permuted", cfg.permute), ("abbreviated", cfg.abbreviate),
        ("fullwidth", cfg.fullwidth > 0), ("thousands", cfg.thousands), ("special_cells", bool(special)),
        ("footer", cfg.footer), ("artefact_blanks", cfg.artefact_blanks)) if on]
    try:
        variant = apply_edits(report, edits, suffix=f"tables{index}", origin="augment.tables", tags=tags)
    except ValueError:
        return None
    # Offsets of the rendered tables in the new text.
    shift, provenance = 0, {}
    for t in sorted(TABLE_KEYS, key=lambda t: regions[t][0]):
        start, end = regions[t]
        new_start = start + shift
        for name, (s, e) in rendered[t].spans.items():
            provenance[name] = [new_start + s, new_start + e]
        shift += len(rendered[t].text) - (end - start)
    variant.gold["tables"] = gold
    variant.gold["layout"] = layout
    variant.gold["provenance"] = provenance
    return variant


def _special_value(rendered: Rendered, name: str) -> object:
    s, e = rendered.spans[name]
    raw = rendered.text[s:e]
    return raw if raw else None


def variants(report: AnnotatedReport, rng: random.Random, n: int = 8) -> list[AnnotatedReport]:
    """``n`` re-renderings of ``report``'s tables (fewer if its tables cannot be located)."""
    own = _own_labels(report)
    out = []
    for i in range(n * 2):
        if len(out) == n:
            break
        v = render_variant(report, rng, index=i, own_labels=own)
        if v is not None:
            out.append(v)
    return out
