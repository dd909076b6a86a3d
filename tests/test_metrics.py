"""Prose metrics: the sentence patterns of real reports, the figures that are never
metrics, evidence spans, the held-out score, and robustness to odd input."""

from __future__ import annotations

import pytest

from service.metrics import MetricModel, extract_metrics, find_candidates, prose_blocks
from service.numbers import numbers_in
from service.types import Document, Section, SourceTable
from training import train_metrics
from training.corpus import load_corpus

from .conftest import CORPUS, ROOT


@pytest.fixture(scope="module")
def model() -> MetricModel:
    return MetricModel.load(ROOT / "models")


@pytest.fixture(scope="module")
def reports():
    return load_corpus(CORPUS)


def run(model: MetricModel, body: str) -> tuple[str, list[tuple]]:
    """Extract from a small report (an overview heading and ``body``); check every
    evidence span against the source and return (text, [(type, channel, value)])."""
    text = "一、总体情况\n" + body + "\n"
    found = extract_metrics(Document(text=text), [Section(key="overview", heading="一、总体情况",
                                                          start=0, end=len(text))], model)
    for m in found:
        assert m.text == text[m.start:m.end]
        assert any(abs(v - m.value) < 1e-9 for v, _, _ in numbers_in(m.text)) or m.unit == "万元"
    return text, [(m.type, m.channel, m.value) for m in found]


def pub(channel: str, value: int | float) -> tuple:
    return ("published_items", channel, value)


# --- the sentence patterns of the issue (other agencies, other figures) -------------

def test_portal_and_platform_counts_with_spaces(model):
    _, got = run(model, "全年通过区教育局门户网站发布信息 512 篇，政务公开平台发布信息 187 篇。")
    assert got == [pub("portal", 512), pub("gov_platform", 187)]


def test_wechat_and_weibo_after_a_quoted_account_name(model):
    _, got = run(model, "2024 年以来，“健康青阳”微信公众号发布信息 734 篇，微博发布信息 1208 篇，形成多平台传播格局。")
    assert got == [pub("wechat", 734), pub("weibo", 1208)]


def test_a_total_and_its_channel_parts(model):
    _, got = run(model, "2024年，主动公开政府信息2130条，其中，政府门户网站主动公开各类信息842条，"
                        "“平安青阳”官方微信公众号发布信息1288条。")
    assert got == [pub("all", 2130), pub("portal", 842), pub("wechat", 1288)]


def test_two_counts_on_one_channel_then_weibo_and_media(model):
    text, got = run(model, "在“青阳发布”网站发布86篇部门动态，143篇通知公告；政务微博共发布信息562条，"
                           "在各类权威媒体发布310篇。")
    assert got == [pub("portal", 86), pub("portal", 143), pub("weibo", 562), pub("media", 310)]


def test_applications_received_with_the_noun_after_the_figure(model):
    _, got = run(model, "截至12月31日，我局2024年度共受理58件依申请公开，全部在法定时限内答复。")
    assert got == [("applications_received", None, 58)]


def test_a_change_against_last_year_is_not_a_count(model):
    _, got = run(model, "2024年，收到政府信息公开申请3件，与去年相比增加2件，已依法依规按时办结。")
    assert got == [("applications_received", None, 3)]


def test_policy_interpretations(model):
    _, got = run(model, "及时修改完善、更新行政规范性文件，2024年度发布相关解读图文5个。")
    assert got == [("policy_interpretations", None, 5)]


def test_chinese_numerals(model):
    _, got = run(model, "全年开展政策解读二十三次，在县政府网站发布各类信息三百四十五条。")
    assert got == [("policy_interpretations", None, 23), pub("portal", 345)]


def test_full_width_digits_wan_and_fees_in_wan_yuan(model):
    _, got = run(model, "全年通过门户网站发布信息１２３条，在抖音号发布短视频1.2万条，收取信息处理费0.5万元。")
    assert got == [pub("portal", 123), pub("short_video", 12000), ("fee_collected", None, 0.5)]


def test_review_litigation_press_documents_licensing_penalty(model):
    _, got = run(model, "本年度因政府信息公开被申请行政复议2件，被提起行政诉讼1件；召开新闻发布会4场；"
                        "制发行政规范性文件3件；公开行政许可决定1,208件、行政处罚决定96件。")
    assert got == [("review_cases", None, 2), ("litigation_cases", None, 1),
                   ("press_conferences", None, 4), ("normative_documents_issued", None, 3),
                   ("licensing_decisions", None, 1208), ("penalty_decisions", None, 96)]


def test_received_carried_over_completed_but_not_carried_forward(model):
    _, got = run(model, "本年度新收政府信息公开申请20件，上年结转申请3件，办结21件，结转下年度继续办理2件。")
    assert got == [("applications_received", None, 20), ("applications_carried_over", None, 3),
                   ("applications_completed", None, 21)]


# --- harder cases ---------------------------------------------------------------------

def test_a_figure_broken_by_a_line_end(model):
    text, got = run(model, "一是强化网站建设，在政\n府网站发布各类信息 512 条，及时回应社会关切。")
    assert got == [pub("portal", 512)]
    found = extract_metrics(Document(text=text), [], model)
    assert "\n" in found[0].text and found[0].text.endswith("512 条")


def test_a_sentence_broken_at_every_inline_tag(model):
    """A page's text taken with a line break per element (get_text("\n") of a
    Word-made page): each figure on a line of its own inside its sentence."""
    text, got = run(model, "坚持以公开为常态，全年在政府网站发布各类政府信息\n249\n条，微信公众号推送信息\n976\n篇，及时回应社会关切。")
    assert got == [pub("portal", 249), pub("wechat", 976)]
    # a line of figures after a sentence that ended is not pulled into it
    _, got = run(model, "全年共在政府网站发布各类政府信息249条。\n12\n3\n")
    assert got == [pub("portal", 249)]


def test_the_channel_named_one_clause_before(model):
    _, got = run(model, "积极发挥“健康青阳”微信公众号服务群众的便利作用，全年推送卫健动态和健康信息864条，提高政策知晓度。")
    assert got == [pub("wechat", 864)]


def test_topic_breakdowns_are_not_channels(model):
    _, got = run(model, "全年在区政府网站发布信息1,500条，其中工作动态1200条，通知公告300条。")
    assert got == [pub("portal", 1500)]


def test_the_same_figure_stated_twice_is_reported_twice(model):
    _, got = run(model, "全年收到政府信息公开申请15件。本年度共收到政府信息公开申请15件，均已办结。")
    assert got == [("applications_received", None, 15)] * 2


def test_followers_views_live_streams_staff_and_trainings_are_never_metrics(model):
    _, got = run(model, "“青阳发布”微信公众号关注人数达12.6万人，全年阅读量超过80万次，开展政务直播12场，"
                        "组织业务培训3次，配备专职人员2名。")
    assert got == []


def test_percentages_ranges_dates_and_phone_numbers_are_never_metrics(model):
    _, got = run(model, "网站信息更新及时率达100%，依申请公开答复满意率占比82.4%，各单位确定1-2名人员专职负责政务公开工作。"
                        "每年组织1—2次集中办公。本报告所列数据的统计期限自2024年1月1日起至2024年12月31日止。"
                        "如对本报告有疑问，请联系：0571-86012345。")
    assert got == []


def test_candidates_exclude_dates_percentages_ranges_and_phones():
    text = "2024年1月1日起，占比82.4%，确定1-2名人员，电话：0533-7181093，第3次会议，发布信息35条。"
    values = [c.value for c in find_candidates(Document(text=text))]
    assert values == [35]


# --- the corpus ---------------------------------------------------------------------------

def test_seed_sentences_are_read_as_annotated(model, reports):
    seed = next(r for r in reports if r.id.startswith("000_"))
    found = extract_metrics(Document(text=seed.text), [], model)
    assert [(m.type, m.channel, m.value, m.unit) for m in found] == [
        (g["type"], g.get("channel"), g["value"], g["unit"]) for g in seed.gold["metrics"]]


def test_table_cells_are_not_prose():
    text = ("一、总体情况\n全年发布信息35条。\n二、主动公开政府信息情况\n"
            "信息内容\t本年处理决定数量\n行政许可\t39\n\t行政处罚\n\t62\n")
    lines = [b.text for b in prose_blocks(Document(text=text))]
    assert lines == ["全年发布信息35条。"]
    # a table the format delimited (HTML, DOCX, PDF) is skipped even where a cell reads like prose
    text = "一、总体情况\n全年发布信息35条。\n行政许可，本年处理决定数量共计39件。\n"
    start = text.index("行政许可")
    doc = Document(text=text, tables=[SourceTable(rows=[], start=start, end=len(text))])
    assert [b.text for b in prose_blocks(doc)] == ["全年发布信息35条。"]


def test_every_predicted_span_is_the_source_and_states_its_value(model, reports):
    for r in reports:
        for m in extract_metrics(Document(text=r.text), [], model):
            assert m.text == r.text[m.start:m.end]
            assert m.start < m.end
            assert any(abs(v - m.value) < 1e-9 for v, _, _ in numbers_in(m.text)) or m.unit == "万元"


def test_held_out_test_split_scores_at_least_095(reports):
    train = [r for r in reports if r.split != "test"]
    test = [r for r in reports if r.split == "test"]
    assert len(test) >= 10 and sum(len(r.gold["metrics"]) for r in test) >= 20
    result = train_metrics.evaluate(test, train_metrics.fit(train))
    assert result.counts.f1 >= 0.95, result.errors
    assert result.spans_contain_value == result.true_positives


def test_training_is_deterministic_and_the_model_round_trips(reports, tmp_path):
    subset = [r for r in reports if r.split != "test"][:12]
    a, b = train_metrics.fit(subset), train_metrics.fit(subset)
    a.save(tmp_path / "a")
    b.save(tmp_path / "b")
    assert (tmp_path / "a" / "metrics.json.gz").read_bytes() == (tmp_path / "b" / "metrics.json.gz").read_bytes()
    loaded = MetricModel.load(tmp_path / "a")
    doc = Document(text=reports[0].text)
    assert extract_metrics(doc, [], loaded) == extract_metrics(doc, [], a)


# --- odd input ------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["", "\n\n", "12345", "条" * 500, "发布信息" + "9" * 400 + "条",
                                  "\t1\t2\t3\n" * 50, "在政\n", "（一）\n（二）\n1.\n2、", "０" * 30 + "万元",
                                  "全年发布信息35条\r\n其中微博12条\r\n"])
def test_odd_text_never_crashes(model, text):
    found = extract_metrics(Document(text=text), [], model)
    for m in found:
        assert m.text == text[m.start:m.end]


def test_an_untrained_model_finds_nothing():
    assert extract_metrics(Document(text="全年发布信息35条。"), [], MetricModel()) == []
