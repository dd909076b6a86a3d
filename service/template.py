"""The report layouts (国办公开办函〔2021〕30号 and the 2019 layout) as data.

Everything that names a canonical key lives here, so the segmenter, the table
reader, the checks, the evaluation and the corpus validator agree on one list.
"""

from __future__ import annotations

# --- sections -------------------------------------------------------------

#: Section keys in the order a report presents them (preamble first).
SECTION_KEYS: tuple[str, ...] = (
    "preamble",
    "overview",
    "active_disclosure",
    "applications",
    "review_litigation",
    "problems",
    "other_matters",
)

#: Canonical heading of each numbered section (without its number).
SECTION_TITLES: dict[str, str] = {
    "overview": "总体情况",
    "active_disclosure": "主动公开政府信息情况",
    "applications": "收到和处理政府信息公开申请情况",
    "review_litigation": "政府信息公开行政复议、行政诉讼情况",
    "problems": "存在的主要问题及改进情况",
    "other_matters": "其他需要报告的事项",
}

#: Wordings seen in the wild, used as similarity anchors (not as the only match).
SECTION_VARIANTS: dict[str, tuple[str, ...]] = {
    "overview": ("总体情况", "概述", "总体概况", "基本情况"),
    "active_disclosure": ("主动公开政府信息情况", "主动公开政府信息", "主动公开情况"),
    "applications": (
        "收到和处理政府信息公开申请情况",
        "行政机关收到和处理政府信息公开申请情况",
        "收到和处理政府信息公开申请",
        "依申请公开情况",
    ),
    "review_litigation": (
        "政府信息公开行政复议、行政诉讼情况",
        "因政府信息公开工作被申请行政复议、提起行政诉讼情况",
        "政府信息公开行政复议、诉讼情况",
        "行政复议、行政诉讼情况",
    ),
    "problems": (
        "存在的主要问题及改进情况",
        "政府信息公开工作存在的主要问题及改进情况",
        "存在的主要问题和改进措施",
        "存在的问题及改进措施",
    ),
    "other_matters": ("其他需要报告的事项", "其他需要报告事项", "其他事项"),
}

# --- tables -----------------------------------------------------------------

TABLE_KEYS: tuple[str, ...] = ("active_disclosure", "applications", "review_litigation")

#: Table 2, 2021 layout: row key -> (label, columns).
ACTIVE_2021: dict[str, tuple[str, tuple[str, ...]]] = {
    "regulations": ("规章", ("issued", "repealed", "in_force")),
    "normative_documents": ("行政规范性文件", ("issued", "repealed", "in_force")),
    "licensing": ("行政许可", ("decisions",)),
    "penalty": ("行政处罚", ("decisions",)),
    "coercion": ("行政强制", ("decisions",)),
    "fees": ("行政事业性收费", ("amount",)),
}

#: Table 2, 2019 layout.
ACTIVE_2019: dict[str, tuple[str, tuple[str, ...]]] = {
    "regulations": ("规章", ("made", "published", "total_public")),
    "normative_documents": ("规范性文件", ("made", "published", "total_public")),
    "licensing": ("行政许可", ("prev_year_items", "change", "decisions")),
    "other_services": ("其他对外管理服务事项", ("prev_year_items", "change", "decisions")),
    "penalty": ("行政处罚", ("prev_year_items", "change", "decisions")),
    "coercion": ("行政强制", ("prev_year_items", "change", "decisions")),
    "fees": ("行政事业性收费", ("prev_year_items", "change")),
    "procurement": ("政府集中采购", ("projects", "amount")),
}

#: Column labels of table 2 (both layouts).
ACTIVE_COLUMN_LABELS: dict[str, str] = {
    "issued": "本年制发件数",
    "repealed": "本年废止件数",
    "in_force": "现行有效件数",
    "decisions": "本年处理决定数量",
    "amount": "本年收费金额（单位：万元）",
    "made": "本年新制作数量",
    "published": "本年新公开数量",
    "total_public": "对外公开总数量",
    "prev_year_items": "上一年项目数量",
    "change": "本年增/减",
    "projects": "采购项目数量",
}

#: Table 3 columns (applicant kinds) in template order.
APPLICANT_COLUMNS: tuple[str, ...] = (
    "natural_person",
    "commercial",
    "research",
    "social_welfare",
    "legal_service",
    "other_org",
    "total",
)

APPLICANT_COLUMN_LABELS: dict[str, str] = {
    "natural_person": "自然人",
    "commercial": "商业企业",
    "research": "科研机构",
    "social_welfare": "社会公益组织",
    "legal_service": "法律服务机构",
    "other_org": "其他",
    "total": "总计",
}

#: Table 3 rows, 2021 layout, in template order: key -> full label.
APPLICATION_ROWS_2021: dict[str, str] = {
    "new_received": "一、本年新收政府信息公开申请数量",
    "carried_over": "二、上年结转政府信息公开申请数量",
    "granted": "三、本年度办理结果（一）予以公开",
    "partially_granted": "（二）部分公开（区分处理的，只计这一情形，不计其他情形）",
    "denied_state_secret": "（三）不予公开 1.属于国家秘密",
    "denied_prohibited_by_law": "2.其他法律行政法规禁止公开",
    "denied_three_safeties": "3.危及“三安全一稳定”",
    "denied_third_party": "4.保护第三方合法权益",
    "denied_internal_affairs": "5.属于三类内部事务信息",
    "denied_process_info": "6.属于四类过程性信息",
    "denied_enforcement_file": "7.属于行政执法案卷",
    "denied_query": "8.属于行政查询事项",
    "unable_not_held": "（四）无法提供 1.本机关不掌握相关政府信息",
    "unable_needs_creation": "2.没有现成信息需要另行制作",
    "unable_unclear": "3.补正后申请内容仍不明确",
    "rejected_petition": "（五）不予处理 1.信访举报投诉类申请",
    "rejected_duplicate": "2.重复申请",
    "rejected_publication": "3.要求提供公开出版物",
    "rejected_excessive": "4.无正当理由大量反复申请",
    "rejected_confirmation": "5.要求行政机关确认或重新出具已获取信息",
    "other_no_correction": "（六）其他处理 1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
    "other_no_fee": "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请",
    "other_misc": "3.其他",
    "results_total": "（七）总计",
    "carried_forward": "四、结转下年度继续办理",
}

#: The 2019 layout replaces the three （六） rows with one.
OTHER_HANDLING_2019 = ("other_handling", "（六）其他处理")

#: Result rows whose sum is ``results_total`` (2021 layout).
RESULT_ROWS_2021: tuple[str, ...] = tuple(
    k for k in APPLICATION_ROWS_2021
    if k not in ("new_received", "carried_over", "results_total", "carried_forward")
)

#: Result rows of the 2019 layout of table 3.
RESULT_ROWS_2019: tuple[str, ...] = tuple(
    k for k in RESULT_ROWS_2021 if not k.startswith("other_")
) + (OTHER_HANDLING_2019[0],)

#: Every row key table 3 may carry (both layouts).
APPLICATION_ROW_KEYS: tuple[str, ...] = tuple(APPLICATION_ROWS_2021) + (OTHER_HANDLING_2019[0],)

#: Table 4: groups and their columns, in the order the 15 figures are printed.
REVIEW_GROUPS: dict[str, str] = {
    "review": "行政复议",
    "litigation_direct": "未经复议直接起诉",
    "litigation_after_review": "复议后起诉",
}
REVIEW_COLUMNS: tuple[str, ...] = ("maintained", "corrected", "other", "pending", "total")
REVIEW_COLUMN_LABELS: dict[str, str] = {
    "maintained": "结果维持",
    "corrected": "结果纠正",
    "other": "其他结果",
    "pending": "尚未审结",
    "total": "总计",
}


def table_schema(table: str, layout: str = "2021") -> dict[str, tuple[str, ...]]:
    """Row key -> column keys of one table under one layout."""
    if table == "active_disclosure":
        rows = ACTIVE_2019 if layout == "2019" else ACTIVE_2021
        return {k: cols for k, (_, cols) in rows.items()}
    if table == "applications":
        keys = [k for k in APPLICATION_ROWS_2021]
        if layout == "2019":
            keys = [k for k in keys if not k.startswith("other_")]
            keys.insert(keys.index("results_total"), OTHER_HANDLING_2019[0])
        return {k: APPLICANT_COLUMNS for k in keys}
    if table == "review_litigation":
        return {g: REVIEW_COLUMNS for g in REVIEW_GROUPS}
    raise KeyError(table)


def all_cell_keys(table: str) -> set[tuple[str, str]]:
    """Every (row, column) a table may carry under any layout."""
    cells: set[tuple[str, str]] = set()
    for layout in ("2021", "2019"):
        for row, cols in table_schema(table, layout).items():
            cells.update((row, c) for c in cols)
    return cells


# --- prose metrics ----------------------------------------------------------

METRIC_TYPES: tuple[str, ...] = (
    "published_items",
    "applications_received",
    "applications_carried_over",
    "applications_completed",
    "policy_interpretations",
    "press_conferences",
    "review_cases",
    "litigation_cases",
    "normative_documents_issued",
    "licensing_decisions",
    "penalty_decisions",
    "fee_collected",
)

CHANNELS: tuple[str, ...] = (
    "all",
    "portal",
    "gov_platform",
    "wechat",
    "weibo",
    "short_video",
    "media",
    "other",
)

LAYOUTS: tuple[str, ...] = ("2021", "2019")
