"""The consistency audit: table rules, narrative rules, the audit view and fault injection."""

from __future__ import annotations

import io
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from service.checks import no_review_statements, run_checks, summarise
from service.template import APPLICANT_COLUMNS, RESULT_ROWS_2019, RESULT_ROWS_2021, REVIEW_GROUPS
from service.types import Extraction, Metric, Section

PARTS = APPLICANT_COLUMNS[:-1]


# --- hand-made extractions ------------------------------------------------------------


def app_row(**values: int) -> dict:
    row = {c: values.get(c, 0) for c in PARTS}
    row["total"] = sum(row.values())
    return row


def applications_table(layout: str = "2021") -> dict:
    """A consistent table 3: 5 + 2 received, 4 granted, 1 not held, 1 petition, 1 carried forward."""
    results = RESULT_ROWS_2019 if layout == "2019" else RESULT_ROWS_2021
    table = {"new_received": app_row(natural_person=4, commercial=1),
             "carried_over": app_row(natural_person=2)}
    for r in results:
        table[r] = app_row()
    table["granted"] = app_row(natural_person=3, commercial=1)
    table["unable_not_held"] = app_row(natural_person=1)
    handling = "other_handling" if layout == "2019" else "other_misc"
    table[handling] = app_row(natural_person=1)
    table["results_total"] = app_row(natural_person=5, commercial=1)
    table["carried_forward"] = app_row(natural_person=1)
    return table


def review_table(review=(0, 0, 0, 0), direct=(0, 0, 0, 0), after=(0, 0, 0, 0)) -> dict:
    out = {}
    for group, vals in zip(REVIEW_GROUPS, (review, direct, after)):
        out[group] = dict(zip(("maintained", "corrected", "other", "pending"), vals))
        out[group]["total"] = sum(vals)
    return out


def active_table() -> dict:
    return {"regulations": {"issued": 0, "repealed": 0, "in_force": 0},
            "normative_documents": {"issued": 2, "repealed": 0, "in_force": 9},
            "licensing": {"decisions": 39}, "penalty": {"decisions": 62},
            "coercion": {"decisions": 0}, "fees": {"amount": 0}}


def extraction(layout: str = "2021", **kw) -> Extraction:
    tables = {"active_disclosure": active_table(), "applications": applications_table(layout),
              "review_litigation": review_table()}
    tables.update(kw.pop("tables", {}))
    return Extraction(layout=layout, tables={k: v for k, v in tables.items() if v is not None}, **kw)


def metric(text: str, source: str, mtype: str, value, channel=None) -> Metric:
    start = source.index(text)
    return Metric(type=mtype, channel=channel, value=value, unit="", start=start,
                  end=start + len(text), text=text)


def by_key(checks):
    return {(c.rule, c.scope): c for c in checks}


# --- table rules -------------------------------------------------------------------------


def test_a_consistent_report_passes_every_table_rule():
    checks = run_checks(extraction(), "")
    assert summarise(checks).model_dump() == {"passed": 42, "failed": 0, "unknown": 0}
    rules = {c.rule for c in checks}
    assert rules == {"applications.balance", "applications.results_total", "applications.row_total",
                     "review_litigation.group_total"}
    bal = by_key(checks)[("applications.balance", "total")]
    assert (bal.expected, bal.found, bal.detail) == (7, 7, "5 + 2 = 6 + 1")
    assert bal.cells == ["applications.new_received.total", "applications.carried_over.total",
                         "applications.results_total.total", "applications.carried_forward.total"]


def test_balance_failure_says_which_numbers_disagree_and_by_how_much():
    e = extraction()
    e.tables["applications"]["carried_forward"]["natural_person"] = 3
    e.provenance = {"applications.carried_forward.natural_person": (500, 501),
                    "applications.new_received.natural_person": (100, 101)}
    checks = by_key(run_checks(e, ""))
    bal = checks[("applications.balance", "natural_person")]
    assert bal.ok is False
    assert (bal.expected, bal.found) == (6, 8)
    assert "off by +2" in bal.detail
    assert bal.spans == [(100, 101), (500, 501)]
    # The same cell breaks its row total; the other columns still pass.
    row = checks[("applications.row_total", "carried_forward")]
    assert (row.ok, row.expected, row.found) == (False, 3, 1)
    assert checks[("applications.balance", "commercial")].ok is True
    assert summarise(list(checks.values())).failed == 2


def test_results_total_failure_lists_the_rows_it_summed():
    e = extraction()
    e.tables["applications"]["rejected_duplicate"]["total"] = 2
    checks = by_key(run_checks(e, ""))
    rt = checks[("applications.results_total", "total")]
    assert (rt.ok, rt.expected, rt.found) == (False, 8, 6)
    assert "rejected_duplicate 2" in rt.detail and "21 result rows" in rt.detail
    assert checks[("applications.row_total", "rejected_duplicate")].ok is False


def test_review_group_total():
    e = extraction(tables={"review_litigation": review_table(review=(8, 2, 0, 1))})
    e.tables["review_litigation"]["litigation_after_review"]["total"] = 4
    checks = by_key(run_checks(e, ""))
    assert checks[("review_litigation.group_total", "review")].ok is True
    bad = checks[("review_litigation.group_total", "litigation_after_review")]
    assert (bad.ok, bad.expected, bad.found) == (False, 0, 4)
    assert bad.detail == "0 + 0 + 0 + 0 = 0, total = 4 (off by +4)"


@pytest.mark.parametrize("raw, reason", [
    (None, "blank cell applications.granted.total"),
    ("/", "non-numeric cell applications.granted.total ('/')"),
    ("无", "non-numeric cell applications.granted.total ('无')"),
])
def test_a_blank_or_dash_cell_is_unknown_never_a_pass(raw, reason):
    e = extraction()
    e.tables["applications"]["granted"]["total"] = raw
    checks = by_key(run_checks(e, ""))
    for key in [("applications.results_total", "total"), ("applications.row_total", "granted")]:
        assert checks[key].ok is None
        assert checks[key].detail == reason
    # Rules that do not involve the cell are still evaluated.
    assert checks[("applications.balance", "total")].ok is True
    assert checks[("applications.results_total", "natural_person")].ok is True
    assert summarise(list(checks.values())).unknown == 2


def test_a_missing_row_makes_the_rules_that_need_it_unknown():
    e = extraction()
    del e.tables["applications"]["carried_over"]
    checks = by_key(run_checks(e, ""))
    for col in APPLICANT_COLUMNS:
        assert checks[("applications.balance", col)].ok is None
        assert "missing row applications.carried_over" in checks[("applications.balance", col)].detail
    assert checks[("applications.row_total", "carried_over")].ok is None
    assert checks[("applications.results_total", "total")].ok is True


def test_missing_tables_give_one_unknown_per_rule_family():
    e = extraction(tables={"applications": None, "review_litigation": None})
    checks = run_checks(e, "")
    assert [(c.rule, c.scope, c.ok) for c in checks] == [
        ("applications.balance", "all", None), ("applications.results_total", "all", None),
        ("applications.row_total", "all", None), ("review_litigation.group_total", "all", None)]
    assert "table 3 (applications) was not found" in checks[0].detail
    assert summarise(checks).model_dump() == {"passed": 0, "failed": 0, "unknown": 4}


def test_2019_layout_sums_other_handling():
    e = extraction(layout="2019")
    checks = by_key(run_checks(e, ""))
    assert all(c.ok for c in checks.values())
    assert ("applications.row_total", "other_handling") in checks
    assert ("applications.row_total", "other_misc") not in checks
    assert "19 result rows" in checks[("applications.results_total", "total")].detail
    e.tables["applications"]["other_handling"]["natural_person"] = 2
    e.tables["applications"]["other_handling"]["total"] = 2
    rt = by_key(run_checks(e, ""))[("applications.results_total", "natural_person")]
    assert (rt.ok, rt.expected, rt.found) == (False, 6, 5)


def test_a_2019_table_read_under_the_2021_layout_is_summed_by_its_own_rows():
    e = extraction(layout="2019")
    e.layout = "2021"
    checks = by_key(run_checks(e, ""))
    assert checks[("applications.results_total", "total")].ok is True
    assert ("applications.row_total", "other_handling") in checks


# --- narrative rules ---------------------------------------------------------------------


def test_applications_received_against_new_received_total():
    text = "一、总体情况\n本年共收到政府信息公开申请5件，均已办结。\n"
    e = extraction(metrics=[metric("收到政府信息公开申请5件", text, "applications_received", 5)])
    c = by_key(run_checks(e, text))[("narrative.applications_received", "new_received.total")]
    assert (c.ok, c.expected, c.found) == (True, 5, 5)
    text = text.replace("5件", "6件")
    e = extraction(metrics=[metric("收到政府信息公开申请6件", text, "applications_received", 6)])
    c = by_key(run_checks(e, text))[("narrative.applications_received", "new_received.total")]
    assert (c.ok, c.expected, c.found) == (False, 5, 6)
    assert c.spans == [(text.index("收到"), text.index("收到") + len("收到政府信息公开申请6件"))]
    assert "off by +1" in c.detail


def test_received_may_count_carried_over_applications():
    # 受理 7 = 5 new + 2 carried over: a legitimate way of counting, said so in the detail.
    text = "全年共受理依申请公开7件。"
    e = extraction(metrics=[metric("受理依申请公开7件", text, "applications_received", 7)])
    c = by_key(run_checks(e, text))[("narrative.applications_received", "new_received.total")]
    assert c.ok is True
    assert "carried-over" in c.detail
    assert "applications.carried_over.total" in c.cells


def test_a_figure_stated_twice_is_checked_once_per_distinct_value():
    text = "收到申请5件。……全年收到申请5件，另有一处写收到申请9件。"
    first = text.index("收到申请5件")
    second = text.index("收到申请5件", first + 1)
    third = text.index("收到申请9件")
    ms = [Metric(type="applications_received", value=v, start=s, end=s + 6, text=text[s:s + 6])
          for v, s in ((5, first), (5, second), (9, third))]
    checks = [c for c in run_checks(extraction(metrics=ms), text)
              if c.rule == "narrative.applications_received"]
    assert [(c.ok, c.found, len(c.spans)) for c in checks] == [(True, 5, 2), (False, 9, 1)]


def test_licensing_and_penalty_prose_against_table_2():
    text = "公开行政许可信息39条，行政处罚信息60条。"
    e = extraction(metrics=[metric("行政许可信息39条", text, "licensing_decisions", 39),
                            metric("行政处罚信息60条", text, "penalty_decisions", 60)])
    checks = by_key(run_checks(e, text))
    assert checks[("narrative.licensing_decisions", "licensing.decisions")].ok is True
    pen = checks[("narrative.penalty_decisions", "penalty.decisions")]
    assert (pen.ok, pen.expected, pen.found) == (False, 62, 60)


def test_prose_without_its_table_is_unknown():
    text = "公开行政许可信息39条。"
    e = extraction(tables={"active_disclosure": None},
                   metrics=[metric("行政许可信息39条", text, "licensing_decisions", 39)])
    c = by_key(run_checks(e, text))[("narrative.licensing_decisions", "licensing.decisions")]
    assert c.ok is None and "active_disclosure was not found" in c.detail


def test_review_and_litigation_cases_in_prose():
    text = "被申请行政复议3件，行政诉讼2件。"
    e = extraction(tables={"review_litigation": review_table(review=(2, 1, 0, 0), direct=(1, 0, 0, 0),
                                                             after=(0, 0, 0, 0))},
                   metrics=[metric("行政复议3件", text, "review_cases", 3),
                            metric("行政诉讼2件", text, "litigation_cases", 2)])
    checks = by_key(run_checks(e, text))
    assert checks[("narrative.review_cases", "review.total")].ok is True
    lit = checks[("narrative.litigation_cases", "litigation_direct.total+litigation_after_review.total")]
    assert (lit.ok, lit.expected, lit.found) == (False, 1, 2)


@pytest.mark.parametrize("sentence, groups", [
    ("全年无涉及政府信息公开行政复议、行政诉讼。", {"review", "litigation_direct", "litigation_after_review"}),
    ("2024年度，我局未收到任何因信息公开工作引发的行政复议或行政诉讼案件。",
     {"review", "litigation_direct", "litigation_after_review"}),
    ("本年度未发生因政府信息公开引起的行政复议。", {"review"}),
    ("没有因政府信息公开被提起行政诉讼的情况。", {"litigation_direct", "litigation_after_review"}),
    ("本机关未被申请行政复议", {"review"}),
    ("政府信息公开行政复议、行政诉讼案件均为0件。", {"review", "litigation_direct", "litigation_after_review"}),
    ("行政复议1件，无行政诉讼。", {"litigation_direct", "litigation_after_review"}),
])
def test_statements_of_no_review_or_litigation(sentence, groups):
    found = no_review_statements(sentence)
    assert len(found) == 1
    start, end, covered = found[0]
    assert covered == groups
    assert sentence[start:end] and "，" not in sentence[start:end]


@pytest.mark.parametrize("sentence", [
    "行政诉讼1件（未经复议直接起诉），尚未审结。",
    "尚未审结的行政复议案件1件。",
    "无法提供的申请2件，其中1件申请人申请行政复议。",
    "行政复议2件，均未被纠错。",
    "未被纠错的行政复议2件。",
    "无一例行政复议被纠错。",
    "行政复议\t行政诉讼\n结果维持\t结果纠正\t其他结果\t尚未审结\t总计\t未经复议直接起诉\t复议后起诉",
    "行政复议纠错率为0。",
])
def test_negations_that_do_not_say_there_was_no_review(sentence):
    assert no_review_statements(sentence) == []


def test_no_review_statement_against_a_non_zero_table_4():
    text = "一、总体情况\n全年无涉及政府信息公开行政复议、行政诉讼。\n四、政府信息公开行政复议、行政诉讼情况\n表\n"
    sections = [Section(key="overview", heading="一、总体情况", start=0, end=text.index("四、")),
                Section(key="review_litigation", heading="四、政府信息公开行政复议、行政诉讼情况",
                        start=text.index("四、"), end=len(text))]
    e = extraction(sections=sections, tables={"review_litigation": review_table(review=(1, 0, 0, 0))})
    e.tables["review_litigation"]["review"]["total"] = 0  # the total even says 0: still a case
    checks = by_key(run_checks(e, text))
    c = checks[("narrative.no_review_litigation", "review")]
    assert (c.ok, c.expected, c.found) == (False, 0, 1)
    stmt = text.index("全年无")
    assert c.spans[0] == (stmt, stmt + len("全年无涉及政府信息公开行政复议、行政诉讼"))
    assert "maintained 1" in c.detail
    assert checks[("narrative.no_review_litigation", "litigation_direct")].ok is True
    # Outside the overview and review sections the sentence is not looked for.
    e.sections = [Section(key="overview", heading="一、总体情况", start=0, end=5),
                  Section(key="problems", heading="", start=5, end=len(text))]
    assert not [c for c in run_checks(e, text) if c.rule == "narrative.no_review_litigation"]


def test_published_total_against_its_parts():
    text = ("（一）主动公开。全年主动公开政府信息1680条，其中门户网站655条，微信公众号1025条。\n"
            "另：微信公众号推送信息1025条。\n")

    def run(total, portal):
        src = text.replace("1680", str(total)).replace("655", str(portal))
        ms = [metric(f"主动公开政府信息{total}条", src, "published_items", total, "all"),
              metric(f"门户网站{portal}条", src, "published_items", portal, "portal"),
              metric("微信公众号1025条", src, "published_items", 1025, "wechat")]
        second = src.index("微信公众号推送信息1025条")
        ms.append(Metric(type="published_items", channel="wechat", value=1025, start=second,
                         end=second + 13, text=src[second:second + 13]))
        return by_key(run_checks(extraction(metrics=ms), src))[("narrative.published_total", "all#1")]

    ok = run(1680, 655)
    assert (ok.ok, ok.expected, ok.found) == (True, 1680, 1680)
    assert len(ok.spans) == 3  # the repeat in the next paragraph is not a part
    over = run(1680, 700)
    assert (over.ok, over.expected, over.found) == (False, 1680, 1725)
    short = run(1700, 655)
    assert short.ok is None and "may not list every channel" in short.detail


def test_published_total_over_a_hard_wrapped_paragraph_and_extra_figures():
    # The paragraph is wrapped mid-sentence; the video count after the semicolon is not a share.
    text = ("（一）主动公开情况\n全年主动公开政府信息3,204条，其中门户网站发布信息1,976条，政务微\n"
            "博发布信息612条，微信公众号发布信息616条；在视频号发布视频98个。\n（二）依申请公开\n")

    def m(t, v, ch):
        return metric(t, text, "published_items", v, ch)

    ms = [m("公开政府信息3,204条", 3204, "all"), m("门户网站发布信息1,976条", 1976, "portal"),
          m("博发布信息612条", 612, "weibo"), m("微信公众号发布信息616条", 616, "wechat"),
          m("视频号发布视频98个", 98, "short_video")]
    c = by_key(run_checks(extraction(metrics=ms), text))[("narrative.published_total", "all#1")]
    assert (c.ok, c.expected, c.found) == (True, 3204, 3204)
    assert "not part of it: short_video 98" in c.detail
    ms[2] = m("博发布信息612条", 700, "weibo")  # as if the prose said 700
    c = by_key(run_checks(extraction(metrics=ms), text))[("narrative.published_total", "all#1")]
    assert (c.ok, c.expected, c.found) == (False, 3204, 3390)


def test_published_total_written_approximately():
    text = "全年公开各类政府信息1.2万条，其中门户网站发布8,150条，微信公众号发布3,920条。"
    ms = [metric("公开各类政府信息1.2万条", text, "published_items", 12000, "all"),
          metric("门户网站发布8,150条", text, "published_items", 8150, "portal"),
          metric("微信公众号发布3,920条", text, "published_items", 3920, "wechat")]
    c = by_key(run_checks(extraction(metrics=ms), text))[("narrative.published_total", "all#1")]
    assert c.ok is True and "rounded" in c.detail  # 12,070 is 1.2万 to the digit written
    text2 = text.replace("1.2万条", "1万余条")
    ms[0] = metric("公开各类政府信息1万余条", text2, "published_items", 10000, "all")
    c = by_key(run_checks(extraction(metrics=ms), text2))[("narrative.published_total", "all#1")]
    assert c.ok is None and "approximate" in c.detail


def test_a_no_review_statement_wrapped_over_two_lines():
    text = ("（五）监督保障情况。公开行政处罚案件信息19条。全年未发生因政府信息\n"
            "公开引发的行政复议和行政诉讼。\n（五）监督保障情况\n无行政诉讼。\n")
    found = no_review_statements(text)
    assert [(text[s:e], sorted(g)) for s, e, g in found] == [
        ("全年未发生因政府信息\n公开引发的行政复议和行政诉讼",
         ["litigation_after_review", "litigation_direct", "review"]),
        ("无行政诉讼", ["litigation_after_review", "litigation_direct"])]


def test_the_corpus_prose_agrees_with_itself(corpus_reports):
    """On every annotated report (the prose corpus too) the gold metrics raise no narrative
    failure: published totals match their parts or are undecidable, and a statement of no
    review/litigation never contradicts a table."""
    checked = 0
    for report in corpus_reports:
        checks = run_checks(gold_extraction(report), report.text)
        assert not [c for c in checks if c.ok is False], report.id
        checked += sum(c.rule == "narrative.published_total" and c.ok is True for c in checks)
    assert checked >= 10


# --- the seeds ----------------------------------------------------------------------------


def gold_extraction(report) -> Extraction:
    g = report.gold
    return Extraction(layout=g.get("layout", "2021"), tables=g.get("tables", {}),
                      sections=[Section(**s) for s in g["sections"]],
                      metrics=[Metric(**m) for m in g["metrics"]])


def test_the_seeds_contain_no_inconsistency(seed_reports):
    """Every seed's tables add up and its prose agrees with them (checked by hand too)."""
    assert len(seed_reports) >= 5
    for report in seed_reports:
        checks = run_checks(gold_extraction(report), report.text)
        assert summarise(checks).failed == 0, [c for c in checks if c.ok is False]
        assert summarise(checks).unknown == 0
        assert summarise(checks).passed >= 42


def test_seed_narrative_checks(seed_reports):
    seeds = {r.id[:3]: r for r in seed_reports}
    got = {k: by_key(run_checks(gold_extraction(r), r.text)) for k, r in seeds.items()}
    # 001 states 1680 items = portal 655 + WeChat 1025 and that there was no review or litigation.
    pub = got["001"][("narrative.published_total", "all#1")]
    assert (pub.ok, pub.expected, pub.found) == (True, 1680, 1680)
    assert got["001"][("narrative.no_review_litigation", "review")].ok is True
    assert got["002"][("narrative.no_review_litigation", "litigation_direct")].ok is True
    assert got["002"][("narrative.penalty_decisions", "penalty.decisions")].found == 53
    assert got["004"][("narrative.applications_received", "new_received.total")].expected == 104
    assert not any(rule.startswith("narrative.no_review") for rule, _ in got["004"])


def test_a_changed_seed_figure_is_flagged_by_the_independent_oracle_and_the_checks(seed_reports):
    """Both implementations of the rules agree on which rules every +1 change breaks."""
    from training.faults import cell_targets, rule_status

    for report in seed_reports:
        base = rule_status(report.gold, report.text)
        for key in cell_targets(report.gold):
            table, row, col = key.split(".")
            e = gold_extraction(report)
            e.tables[table][row][col] += 1
            gold = {**report.gold, "tables": e.tables}
            expected = {k for k, ok in rule_status(gold, report.text).items()
                        if ok is False and base[k] is True}
            failing = {(c.rule, c.scope) for c in run_checks(e, report.text) if c.ok is False}
            assert expected and failing == expected, (report.id, key)


# --- the audit view ------------------------------------------------------------------------


def test_render_audit_is_plain_off_a_terminal_and_coloured_on_one():
    from service.audit_view import render_audit

    text = "全年共收到政府信息公开申请6件。"
    e = extraction(metrics=[metric("收到政府信息公开申请6件", text, "applications_received", 6)])
    e.tables["applications"]["granted"]["research"] = None
    e.checks = run_checks(e, text)
    e.audit = summarise(e.checks)
    data = e.model_dump()

    plain = io.StringIO()
    render_audit("report.txt", data, Console(file=plain, width=200))
    out = plain.getvalue()
    assert "\x1b[" not in out
    assert "report.txt" in out
    assert "narrative.applications_received" in out and "FAIL" in out
    assert re.search(r"narrative\.applications_received \[new_received\.total\]\s+5\s+6\s+\+1", out)
    assert "「收到政府信息公开申请6件」" in out
    assert "blank cell applications.granted.research" in out
    assert "1 failed" in out and "not evaluable" in out

    coloured = io.StringIO()
    render_audit("report.txt", data, Console(file=coloured, width=200, force_terminal=True,
                                             color_system="standard"))
    assert "\x1b[" in coloured.getvalue()


def test_render_audit_of_a_clean_report_is_one_line_of_summary():
    from service.audit_view import render_audit

    e = extraction()
    e.checks = run_checks(e, "")
    e.audit = summarise(e.checks)
    buf = io.StringIO()
    render_audit("ok.txt", e.model_dump(), Console(file=buf, width=120))
    assert buf.getvalue().splitlines() == ["ok.txt", "  passed: 42 passed, 0 failed, 0 not evaluable"]


# --- never a false pass ---------------------------------------------------------------------

_cell_values = st.one_of(st.integers(0, 3), st.none(), st.sampled_from(["/", "-", "无", ""]),
                         st.floats(0, 3, allow_nan=False))


@settings(max_examples=60, deadline=None)
@given(data=st.data(), layout=st.sampled_from(["2021", "2019"]))
def test_a_rule_is_decided_only_on_numeric_figures(data, layout):
    e = extraction(layout=layout)
    for table in ("applications", "review_litigation"):
        rows = e.tables[table]
        for row in list(rows):
            if data.draw(st.integers(0, 9)) == 0:
                del rows[row]
                continue
            for col in rows[row]:
                if data.draw(st.integers(0, 4)) == 0:
                    rows[row][col] = data.draw(_cell_values)
    checks = run_checks(e, "全年无涉及政府信息公开行政复议、行政诉讼。")
    for c in checks:
        if c.ok is None:
            assert c.detail
            continue
        if c.ok is False and c.rule == "narrative.no_review_litigation":
            continue  # one non-zero figure is enough to contradict "none", blanks or not
        for key in c.cells:
            if key.startswith("metrics."):
                continue
            table, row, col = key.split(".")
            value = e.tables[table][row][col]
            assert isinstance(value, (int, float)), (c, key, value)


# --- fault injection through the full pipeline ---------------------------------------------


def test_fault_injection_flags_every_broken_rule_and_no_consistent_report(seed_reports, models):
    """Change figures one at a time by +1 in the source text — every table 4 cell, one table 3
    cell per row (rotating the column, so every row and column is hit), the table 2 cells prose
    mirrors and every prose figure — in each seed and one layout variant of it, re-extract with
    the full pipeline, and require the audit to flag each rule the change breaks.

    ``python -m training.faults`` runs the full set (every table 3 cell, two variants each).
    """
    from training.faults import format_report, pipeline_extractor, run_fault_injection

    result = run_fault_injection(seed_reports, pipeline_extractor(models), variants=1, table3_per_row=1)
    report = format_report(result)
    assert result["reports"] == 2 * len(seed_reports), report
    assert result["false_alarm_reports"] == 0, report
    assert not result["errors"], report
    assert not result["not_injectable"], report
    assert result["faults_breaking_a_rule"] >= 300, report
    assert result["detection_rate"] == 1.0, report
    assert result["faults_fully_flagged"] == result["faults_breaking_a_rule"], report
    # Inconsistencies a report really holds are reported: the variants whose new tables
    # contradict the prose they kept.
    assert result["inconsistencies_flagged"] == result["inconsistencies_in_gold"], report
    assert not result["real_inconsistencies"], report  # the seeds themselves are consistent
    for rule in ("applications.balance", "applications.results_total", "applications.row_total",
                 "review_litigation.group_total", "narrative.applications_received",
                 "narrative.licensing_decisions", "narrative.penalty_decisions",
                 "narrative.no_review_litigation", "narrative.published_total"):
        assert result["by_rule"][rule]["breaks"] > 0, (rule, report)


def test_govreport_audit_names_the_broken_rules_and_exits_1(tmp_path):
    import subprocess
    import sys

    from .conftest import CORPUS, ROOT

    seed = CORPUS / "004_7f0b1ba19ca81226.txt"
    text = seed.read_text(encoding="utf-8")
    assert text.count("受理104件") == 1
    bad = tmp_path / "changed.txt"
    bad.write_text(text.replace("受理104件", "受理105件"), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "service.cli", "audit", str(seed), str(bad)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stderr
    assert "\x1b[" not in run.stdout
    clean, changed = run.stdout.split(str(bad))
    assert "0 failed" in clean and "FAIL" not in clean
    # 80 columns off a terminal: the scope may wrap below the rule, the numbers stay on its line.
    assert re.search(r"narrative\.applications_received[^\n]*\s104\s+105\s+\+1", changed)
    assert "[new_received.total]" in changed
    assert "受理105件依申请公开」" in changed
    assert "1 failed" in changed

    ok = subprocess.run([sys.executable, "-m", "service.cli", "audit", str(seed)], cwd=ROOT,
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_a_category_of_published_information_against_decisions_is_not_a_fault():
    """行政许可类信息4条 counts licensing information published; table 2 counts decisions.
    Equal figures pass; different ones are different measures, never a false alarm."""
    def run(prose_text: str, value: int):
        text = f"全年主动公开{prose_text}。"
        e = extraction(metrics=[metric(prose_text, text, "licensing_decisions", value)])
        return by_key(run_checks(e, text))[("narrative.licensing_decisions", "licensing.decisions")]

    assert run("行政许可类信息39条", 39).ok is True
    other = run("行政许可类信息4条", 4)
    assert other.ok is None and "different measures" in other.detail
    assert run("行政许可信息4条", 4).ok is False  # worded as the licensing figure itself
    assert run("行政许可类决定4件", 4).ok is False  # decisions, in so many words


def test_a_channel_figure_above_the_total_counts_something_else():
    text = "全年主动公开政府信息374条。官方微信公众号累计发送了1430条信息。"
    e = extraction(metrics=[metric("主动公开政府信息374条", text, "published_items", 374, "all"),
                            metric("官方微信公众号累计发送了1430条", text, "published_items", 1430, "wechat")])
    check = by_key(run_checks(e, text))[("narrative.published_total", "all#1")]
    assert check.ok is None and "counts something else" in check.detail


def test_a_glued_row_no_cut_adds_up_is_said_so_not_called_blank():
    from service.types import CellFlag

    apps = applications_table()
    apps["partially_granted"] = {c: None for c in apps["partially_granted"]}
    flags = [CellFlag(cell=f"applications.partially_granted.{c}", raw="8100008", reason="ambiguous_split",
                      candidates=[]) for c in apps["partially_granted"]]
    checks = by_key(run_checks(extraction(tables={"applications": apps}, cell_flags=flags), ""))
    row = checks[("applications.row_total", "partially_granted")]
    assert row.ok is None and "glued together (8100008)" in row.detail and not row.detail.startswith("blank")
