"""The review page's HTML fragments, rendered on the server from an extraction.

Every piece of report text (the text itself, headings, figures as printed, check
details, the agency's name) goes through ``html.escape``; the extraction is also
embedded as JSON for the page's script with ``<``, ``>`` and ``&`` written as
``\\u003c`` … so that no report can close the element it sits in.

Test hooks (stable): a table value is ``[data-cell="table.row.col"]``, a prose metric
``[data-metric="i"]`` (its index in ``metrics``), a check ``[data-check="i"]``; the
text is cut into ``span`` elements at every figure, metric, check and section
boundary, each with ``data-s`` / ``data-e`` (its offsets) so a span of the text is a
run of whole elements.

Where a figure or a metric was read from is the extraction's own: ``locations``
(table.row.col -> page, box, OCR confidence) and each metric's ``location``.  A piece
of text inside a located figure or metric carries ``data-page`` (and ``data-conf``
when OCR read it); text with no location (plain text, HTML, DOCX) carries none.
"""

from __future__ import annotations

import json
from html import escape

from service.checks import NARRATIVE_MIN_CONFIDENCE
from service.export import rows_and_columns
from service.template import (
    ACTIVE_2019,
    ACTIVE_2021,
    ACTIVE_COLUMN_LABELS,
    APPLICANT_COLUMN_LABELS,
    APPLICANT_COLUMNS,
    CHANNELS,
    METRIC_TYPES,
    REVIEW_COLUMN_LABELS,
    REVIEW_COLUMNS,
    REVIEW_GROUPS,
    SECTION_TITLES,
    TABLE_KEYS,
)

TABLE_TITLES = {"active_disclosure": "二、主动公开政府信息情况",
                "applications": "三、收到和处理政府信息公开申请情况",
                "review_litigation": "四、政府信息公开行政复议、行政诉讼情况"}
#: Below this a table's reading is shown as doubtful.
LOW_TABLE_CONFIDENCE = 0.9
FLAG_NAMES = {"blank": "空白", "dash": "横线/斜线", "none_word": "“无”", "unreadable": "无法读取",
              "ambiguous_split": "数字粘连，无法确定", "low_confidence": "OCR 把握不大",
              "ocr_repaired": "OCR 读数已按勾稽关系修复"}
#: Flags of a figure OCR read (a value is there; marked, not hatched like a missing one).
OCR_FLAGS = ("low_confidence", "ocr_repaired")


def esc(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def embedded_json(data: object) -> str:
    """JSON safe inside a ``<script type="application/json">`` element."""
    return (json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("&", "\\u0026"))


def shown(value: object) -> str:
    """A cell value as an input shows it (an integer without ``.0``)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def where(location: dict | None) -> str:
    """A figure's place as the page says it: ``第N页``, with OCR's confidence when OCR
    read it; '' without a location (plain text, HTML, DOCX)."""
    if not location or location.get("page") is None:
        return ""
    confidence = location.get("confidence")
    return f"第{location['page']}页" + ("" if confidence is None else f" · OCR 置信度 {confidence:.2f}")


def _location_attrs(location: dict | None) -> str:
    """``data-page`` / ``data-conf`` of a located piece (read by the page's script)."""
    if not location or location.get("page") is None:
        return ""
    confidence = location.get("confidence")
    return (f' data-page="{esc(location["page"])}"'
            + ("" if confidence is None else f' data-conf="{confidence:.2f}"'))


# --- the whole report -----------------------------------------------------------------

def render_report(result: dict, *, can_save: bool, note: str = "") -> str:
    """The review of one extraction (with its ``text``, or without when it is not known)."""
    flags = {f["cell"]: f for f in result.get("cell_flags") or []}
    parts = [f'<div id="view" data-format="{esc(result.get("format"))}">',
             f'<script type="application/json" id="report-data">{embedded_json(result)}</script>',
             _header(result, note), _audit(result.get("checks") or [], result.get("audit") or {}),
             '<div class="columns"><div class="left">',
             "".join(_table(t, result, flags) for t in TABLE_KEYS),
             _metrics(result.get("metrics") or [], result.get("text")),
             _sections(result.get("sections") or []),
             _save_bar(can_save and result.get("text") is not None),
             '</div><div class="right"><div id="trace" class="trace" aria-live="polite">'
             '点击表格数值、文中指标或未通过的校验，在原文中定位。</div>',
             _text(result), "</div></div></div>"]
    return "".join(parts)


def _header(result: dict, note: str) -> str:
    report = result.get("report") or {}
    audit = result.get("audit") or {}
    facts = [("机关", report.get("agency")), ("年度", report.get("year")), ("格式", result.get("format")),
             ("版式", result.get("layout"))]
    items = "".join(f"<span><b>{esc(k)}</b> {esc(v if v is not None else '—')}</span>" for k, v in facts)
    warnings = "".join(f"<li>{esc(w)}</li>" for w in result.get("warnings") or [])
    return (f'<header class="report-head"><h2>{esc(report.get("title") or "（标题未知）")}</h2>'
            f'<div class="facts">{items}<span class="audit-sum"><b>校验</b> '
            f'<em class="{"fail" if audit.get("failed") else "ok"}">{int(audit.get("failed", 0))} 未通过</em> · '
            f'{int(audit.get("passed", 0))} 通过 · {int(audit.get("unknown", 0))} 无法判断</span></div>'
            + (f'<p class="note">{esc(note)}</p>' if note else "") + _ocr_summary(result)
            + (f'<ul class="warnings">{warnings}</ul>' if warnings else "") + "</header>")


def _ocr_summary(result: dict) -> str:
    """For a report OCR read: how many figures it was unsure of, how many it repaired."""
    located = list((result.get("locations") or {}).values())
    located += [m.get("location") for m in result.get("metrics") or []]
    flags = [f.get("reason") for f in result.get("cell_flags") or []]
    if not any(loc and loc.get("confidence") is not None for loc in located) and not set(flags) & set(OCR_FLAGS):
        return ""
    low, repaired = flags.count("low_confidence"), flags.count("ocr_repaired")
    return ('<p class="ocr-sum"><b>OCR</b> 本报告由文字识别读出：'
            f'<span class="key key-low">{low}</span> 个数字把握不大（虚线框），'
            f'<span class="key key-repaired">{repaired}</span> 个按勾稽关系修复（蓝色标记）；'
            "鼠标停在数字上可见识别置信度、候选读数与页码。</p>")


def _audit(checks: list[dict], audit: dict) -> str:
    """The audit, failed checks first, each with its detail; passed ones folded away."""
    order = {False: 0, None: 1, True: 2}
    ranked = sorted(range(len(checks)), key=lambda i: order[checks[i].get("ok")])
    kinds = {False: ("fail", "✗"), None: ("unknown", "?"), True: ("pass", "✓")}

    def item(i: int) -> str:
        c = checks[i]
        kind, mark = kinds[c.get("ok")]
        return (f'<li class="check {kind}" data-check="{i}" tabindex="0" role="button">'
                f'<span class="mark">{mark}</span> <b>{esc(c.get("rule"))}</b> '
                f'<span class="scope">[{esc(c.get("scope"))}]</span> '
                f'<span class="detail">{esc(c.get("detail"))}</span></li>')

    open_ = [item(i) for i in ranked if checks[i].get("ok") is not True]
    passed = [item(i) for i in ranked if checks[i].get("ok") is True]
    return ('<section id="audit"><h3>校验（勾稽关系与文表一致）</h3>'
            + (f'<ul class="checks">{"".join(open_)}</ul>' if open_ else '<p class="ok">全部通过。</p>')
            + (f'<details><summary>{len(passed)} 项通过</summary><ul class="checks">{"".join(passed)}</ul>'
               "</details>" if passed else "") + "</section>")


# --- tables laid out like the report --------------------------------------------------

def _value(table: str, row: str, col: str, result: dict, flags: dict) -> str:
    key = f"{table}.{row}.{col}"
    value = (result.get("tables") or {}).get(table, {}).get(row, {}).get(col)
    flag = flags.get(key)
    location = (result.get("locations") or {}).get(key)
    classes = "v"
    title = key + (f" · {where(location)}" if where(location) else "")
    if flag:
        reason = flag["reason"]
        candidates = " / ".join(shown(c) for c in flag.get("candidates") or [])
        sure = "" if flag.get("confidence") is None else f"（置信度 {flag['confidence']:.2f}）"
        if reason == "low_confidence":
            classes += " ocr flag-low_confidence"
            title += f" · {FLAG_NAMES[reason]}{sure}：识别为「{flag.get('raw', '')}」"
            title += f"，也可能是 {candidates}" if candidates else ""
        elif reason == "ocr_repaired":
            classes += " ocr flag-ocr_repaired"
            title += f" · {FLAG_NAMES[reason]}{sure}：印作「{flag.get('raw', '')}」，修复为 {candidates or shown(value)}"
        else:
            classes += f" flag flag-{reason}"
            title += f" · {FLAG_NAMES.get(reason, reason)}：原文「{flag.get('raw', '')}」"
            title += f" 可能为 {candidates}" if candidates else ""
    return (f'<td><input class="{classes}" data-cell="{esc(key)}" value="{esc(shown(value))}" '
            f'title="{esc(title)}" aria-label="{esc(key)}" size="4" autocomplete="off"></td>')


def _table(table: str, result: dict, flags: dict) -> str:
    confidence = (result.get("table_confidence") or {}).get(table)
    low = confidence is not None and confidence < LOW_TABLE_CONFIDENCE
    badge = ("" if confidence is None else
             f'<span class="confidence{" low" if low else ""}">置信度 {confidence:.2f}</span>')
    layout = result.get("layout") or "2021"
    body = {"active_disclosure": _active_rows, "applications": _application_rows,
            "review_litigation": _review_rows}[table](layout, result, flags)
    return (f'<section class="table" data-table="{table}"><h3>{esc(TABLE_TITLES[table])} {badge}</h3>'
            f'<div class="scroll"><table class="report-table">{body}</table></div></section>')


def _active_rows(layout: str, result: dict, flags: dict) -> str:
    """Table 2: a header row (信息内容 and the columns) above each run of rows sharing columns."""
    rows = ACTIVE_2019 if layout == "2019" else ACTIVE_2021
    out, last = [], None
    for row, (label, cols) in rows.items():
        if cols != last:
            heads = "".join(f"<th>{esc(ACTIVE_COLUMN_LABELS[c])}</th>" for c in cols)
            out.append(f"<tr><th>信息内容</th>{heads}</tr>")
            last = cols
        cells = "".join(_value("active_disclosure", row, c, result, flags) for c in cols)
        out.append(f'<tr><th class="label">{esc(label)}</th>{cells}</tr>')
    return "".join(out)


def _application_rows(layout: str, result: dict, flags: dict) -> str:
    """Table 3: 申请人情况 across (法人或其他组织 over its five columns), the rows down."""
    middle = APPLICANT_COLUMNS[1:-1]
    head = (f'<tr><th rowspan="2">申请人情况</th><th rowspan="2">{esc(APPLICANT_COLUMN_LABELS["natural_person"])}</th>'
            f'<th colspan="{len(middle)}">法人或其他组织</th><th rowspan="2">{esc(APPLICANT_COLUMN_LABELS["total"])}</th></tr>'
            "<tr>" + "".join(f"<th>{esc(APPLICANT_COLUMN_LABELS[c])}</th>" for c in middle) + "</tr>")
    rows, _ = rows_and_columns("applications", layout)
    body = "".join(f'<tr><th class="label">{esc(label)}</th>'
                   + "".join(_value("applications", row, c, result, flags) for c in APPLICANT_COLUMNS) + "</tr>"
                   for row, label in rows)
    return head + body


def _review_rows(layout: str, result: dict, flags: dict) -> str:
    """Table 4 as printed: 行政复议 then 行政诉讼 (two groups), one row of fifteen figures."""
    review, *litigation = REVIEW_GROUPS
    n = len(REVIEW_COLUMNS)
    labels = [f"<th>{esc(REVIEW_COLUMN_LABELS[c])}</th>" for c in REVIEW_COLUMNS]
    head = (f'<tr><th colspan="{n}">{esc(REVIEW_GROUPS[review])}</th><th colspan="{n * len(litigation)}">行政诉讼</th></tr>'
            + "<tr>" + "".join(f'<th rowspan="2">{esc(REVIEW_COLUMN_LABELS[c])}</th>' for c in REVIEW_COLUMNS)
            + "".join(f'<th colspan="{n}">{esc(REVIEW_GROUPS[g])}</th>' for g in litigation) + "</tr>"
            + "<tr>" + "".join(labels * len(litigation)) + "</tr>")
    values = "".join(_value("review_litigation", g, c, result, flags) for g in REVIEW_GROUPS for c in REVIEW_COLUMNS)
    return head + f"<tr>{values}</tr>"


# --- prose metrics and sections -------------------------------------------------------

def _options(choices: tuple[str, ...], selected: str | None, blank: bool = False) -> str:
    out = ['<option value=""></option>'] if blank else []
    out += [f'<option value="{esc(c)}"{" selected" if c == selected else ""}>{esc(c)}</option>' for c in choices]
    return "".join(out)


def metric_row(i: int | str, m: dict) -> str:
    """One prose metric as an editable row (``i`` is its index; the template row has none)."""
    confidence = m.get("confidence")
    low = confidence is not None and confidence < NARRATIVE_MIN_CONFIDENCE
    place = where(m.get("location"))
    return (f'<tr class="metric{" low" if low else ""}" data-metric="{esc(i)}">'
            f'<td><select class="m-type" aria-label="type">{_options(METRIC_TYPES, m.get("type"))}</select></td>'
            f'<td><select class="m-channel" aria-label="channel">{_options(CHANNELS, m.get("channel"), blank=True)}'
            "</select></td>"
            f'<td><input class="m-value" value="{esc(shown(m.get("value")))}" size="6" aria-label="value"></td>'
            f'<td><input class="m-unit" value="{esc(m.get("unit") or "")}" size="3" aria-label="unit"></td>'
            f'<td class="m-text">{esc(m.get("text"))}</td>'
            f'<td class="m-where">{esc(m.get("start"))}–{esc(m.get("end"))}'
            + (f' · {esc(place)}' if place else "") + "</td>"
            f'<td class="m-conf">{"" if confidence is None else f"{confidence:.2f}"}</td>'
            '<td><button type="button" class="m-span" title="用原文中选中的文字作为证据">取选区</button>'
            '<button type="button" class="m-delete" title="删除">✕</button></td></tr>')


def _metrics(metrics: list[dict], text: str | None) -> str:
    rows = "".join(metric_row(i, m) for i, m in enumerate(metrics))
    template = metric_row("", {"type": "published_items", "channel": "all", "start": None})
    add = ('<button type="button" id="add-metric">从选中的文字添加指标</button>' if text is not None else "")
    return ('<section id="metrics"><h3>文中指标</h3><div class="scroll"><table class="metrics">'
            "<thead><tr><th>type</th><th>channel</th><th>value</th><th>unit</th><th>原文</th><th>位置</th>"
            f"<th>置信度</th><th></th></tr></thead><tbody>{rows}</tbody></table></div>{add}"
            f'<template id="metric-template">{template}</template></section>')


def _sections(sections: list[dict]) -> str:
    rows = "".join(
        f'<tr data-section="{i}"><td>{esc(SECTION_TITLES.get(s["key"], "（标题前）"))}<br><small>{esc(s["key"])}</small></td>'
        f'<td class="s-heading">{esc(s.get("heading"))}</td>'
        f'<td><input class="s-start" type="number" min="0" value="{esc(s["start"])}" aria-label="start"'
        f'{" disabled" if s["key"] == "preamble" else ""}></td><td class="s-end">{esc(s["end"])}</td>'
        + ('<td></td>' if s["key"] == "preamble" else
           '<td><button type="button" class="s-span" title="以选中文字的起点为本节开始">取选区起点</button></td>')
        + "</tr>" for i, s in enumerate(sections))
    return ('<section id="sections"><h3>章节边界</h3><table class="sections"><thead><tr><th>章节</th><th>标题</th>'
            f"<th>起</th><th>止</th><th></th></tr></thead><tbody>{rows}</tbody></table></section>")


def _save_bar(can_save: bool) -> str:
    if not can_save:
        return ('<section id="save"><p class="note">保存更正需要以 <code>govreport serve --corpus-dir DIR</code> '
                "启动服务（并且报告带有原文）。</p></section>")
    return ('<section id="save"><button type="button" id="save-button">保存为标注（gold）</button> '
            '<output id="save-status" aria-live="polite"></output></section>')


# --- the text, cut at every span ------------------------------------------------------

def _boundaries(result: dict, n: int) -> list[int]:
    points = {0, n}
    points.update(s["start"] for s in result.get("sections") or [])
    for start, end in (result.get("provenance") or {}).values():
        points.update((start, end))
    for m in result.get("metrics") or []:
        points.update((m["start"], m["end"]))
    for c in result.get("checks") or []:
        for start, end in c.get("spans") or []:
            points.update((start, end))
    return sorted(p for p in points if 0 <= p <= n)


def _text(result: dict) -> str:
    text = result.get("text")
    if text is None:
        return '<div id="text" class="text missing">没有原文（存档只保存了数据，原文件已不在原处）。</div>'
    points = _boundaries(result, len(text))
    metrics = result.get("metrics") or []
    locations = result.get("locations") or {}
    metric_spans = [(m["start"], m["end"], i) for i, m in enumerate(metrics)]
    figure_spans = [(s, e, key) for key, (s, e) in (result.get("provenance") or {}).items()]
    section_at = {s["start"]: s for s in result.get("sections") or []}
    out = ['<div id="text" class="text" lang="zh">']
    opened = False
    for start, end in zip(points, points[1:]):
        if start in section_at:
            s = section_at[start]
            title = SECTION_TITLES.get(s["key"], "标题与前言")
            out.append(("</div>" if opened else "")
                       + f'<div class="sec" data-section-key="{esc(s["key"])}">'
                       f'<div class="sec-name" aria-hidden="true">{esc(title)} · {esc(s["key"])}</div>')
            opened = True
        attrs = f'data-s="{start}" data-e="{end}"'
        classes = []
        metric = next((i for s, e, i in metric_spans if s <= start and end <= e), None)
        if metric is not None:
            classes.append("metric")
            attrs += f' data-m="{metric}"'
        figure = next((k for s, e, k in figure_spans if s <= start and end <= e), None)
        if figure is not None:
            classes.append("fig")
            attrs += f' data-c="{esc(figure)}"'
        # where it was read from: the figure's location, else the metric's (none without)
        located = locations.get(figure) if figure is not None else None
        if located is None and metric is not None:
            located = metrics[metric].get("location")
        attrs += _location_attrs(located)
        cls = f' class="{" ".join(classes)}"' if classes else ""
        out.append(f"<span {attrs}{cls}>{esc(text[start:end])}</span>")
    out.append("</div>" if opened else "")
    out.append("</div>")
    return "".join(out)


# --- the archive: a list of stored reports, an agency's years -------------------------

def render_store_list(reports: list[dict]) -> str:
    if not reports:
        return '<p class="note">存档中没有符合条件的报告。</p>'
    rows = "".join(
        f'<tr><td>{esc(r["id"])}</td><td>{esc(r.get("agency") or "—")}</td><td>{esc(r.get("year") or "—")}</td>'
        f'<td>{esc(r.get("title") or r.get("source"))}</td><td>{esc(r.get("error_code") or "")}</td>'
        + (f'<td><button type="button" data-report="{esc(r["id"])}">打开</button> '
           if r.get("error_code") is None else "<td>")
        + (f'<button type="button" data-agency="{esc(r["agency_key"])}">历年对比</button>'
           if r.get("agency_key") else "") + "</td></tr>" for r in reports)
    return ('<table class="store"><thead><tr><th>id</th><th>机关</th><th>年度</th><th>标题 / 文件</th>'
            f"<th>错误</th><th></th></tr></thead><tbody>{rows}</tbody></table>")


def _figure_label(key: str) -> str:
    """A cell key's Chinese row and column labels (the template's), or the key itself."""
    table, _, rest = key.partition(".")
    row, _, col = rest.partition(".")
    if table not in TABLE_KEYS:
        return key
    for layout in ("2021", "2019"):
        rows, cols = rows_and_columns(table, layout)
        labels, col_labels = dict(rows), dict(cols)
        if row in labels and col in col_labels:
            return f"{labels[row]} · {col_labels[col]}"
    return key


def render_agency(agencies: list[dict]) -> str:
    """Each agency's years side by side, with the cross-year checks (failed first)."""
    if not agencies:
        return '<p class="note">存档中没有这个机关的报告。</p>'
    out = []
    for a in agencies:
        years = [str(y) for y in a["years"]]
        order = {False: 0, None: 1, True: 2}
        checks = "".join(
            f'<li class="check {("fail", "unknown", "pass")[order[c["ok"]]]}"><b>{esc(c["rule"])}</b> '
            f'<span class="scope">[{esc(c["scope"])}]</span> <span class="detail">{esc(c["detail"])}</span></li>'
            for c in sorted(a["checks"], key=lambda c: order[c["ok"]]))
        head = "".join(f'<th><button type="button" data-report="{esc(a["reports"][y])}">{esc(y)}</button></th>'
                       for y in years)
        body = []
        for kind, series in (("cell", a["cells"]), ("metric", a["metrics"])):
            for key, s in series.items():
                values = "".join(f"<td>{esc(shown(s['by_year'].get(y)))}</td>" for y in years)
                label = _figure_label(key) if kind == "cell" else key
                body.append(f'<tr><th class="label" title="{esc(key)}">{esc(label)}</th>{values}</tr>')
        audit = a["audit"]
        out.append(f'<section class="agency"><h2>{esc(a["agency"])} <small>{esc(a["agency_key"])}</small></h2>'
                   f'<p>跨年校验：<em class="fail">{audit["failed"]} 未通过</em> · {audit["passed"]} 通过 · '
                   f'{audit["unknown"]} 无法判断</p><ul class="checks">{checks}</ul>'
                   f'<div class="scroll"><table class="years"><thead><tr><th></th>{head}</tr></thead>'
                   f'<tbody>{"".join(body)}</tbody></table></div></section>')
    return "".join(out)
