"""Section segmentation: heading styles, body sentences, tables, missing sections,
the ordered decoding, the heading augmenter and the model's storage."""

from __future__ import annotations

import random

import numpy as np
import pytest

from service.segment import (
    HEADING_KEYS,
    MODEL_FILE,
    SectionModel,
    candidates,
    decode,
    is_candidate,
    parse_numbering,
    segment,
)
from service.types import Document
from training.augment import headings
from training.corpus import validate
from training.scoring import score_sections

from .conftest import ROOT

CANONICAL = ["一、总体情况", "二、主动公开政府信息情况", "三、收到和处理政府信息公开申请情况",
             "四、政府信息公开行政复议、行政诉讼情况", "五、存在的主要问题及改进情况",
             "六、其他需要报告的事项"]


@pytest.fixture(scope="module")
def model() -> SectionModel:
    return SectionModel.load(ROOT / "models")


# --- a realistic report, assembled with whatever headings a test asks for ----------------

PREAMBLE = ("某市生态环境局2024年政府信息公开工作年度报告\n\n"
            "本报告依据《中华人民共和国政府信息公开条例》第五十条编制。本报告所列数据的统计期限"
            "自2024年1月1日起至2024年12月31日止。如对本报告有疑问，请与市生态环境局办公室联系。\n")
OVERVIEW = ("2024年，我局坚持以公开为常态、不公开为例外，持续深化政务公开工作。\n"
            "（一）主动公开情况\n全年通过门户网站主动公开政府信息312条，微信公众号发布信息145条。\n"
            "（二）依申请公开情况\n全年共收到政府信息公开申请9件，均在法定期限内答复。\n"
            "（三）政府信息管理情况\n严格落实信息发布保密审查制度，动态更新主动公开目录。\n"
            "（四）政府信息公开平台建设情况\n优化门户网站政府信息公开专栏栏目设置。\n"
            "（五）监督保障情况\n将政务公开纳入年度绩效考核，组织业务培训2次。\n")
TABLE2 = ("第二十条第（一）项\t\t\t\n信息内容\t本年制发件数\t本年废止件数\t现行有效件数\n"
          "规章\t0\t0\t0\n行政规范性文件\t2\t0\t11\n第二十条第（五）项\t\t\t\n"
          "信息内容\t本年处理决定数量\t\t\n行政许可\t126\t\t\n第二十条第（八）项\t\t\t\n"
          "信息内容\t本年收费金额（单位：万元）\t\t\n行政事业性收费\t0\t\t\n")
# Table 3 rendered one cell per line, each starting with a tab (a common DOCX export):
# its row labels 三、本年度办理结果 and 四、结转下年度继续办理 are not section headings.
TABLE3 = "".join(f"\t{label}\n" + "".join(f"\t{v}\n" for v in values) + "\n" for label, values in (
    ("一、本年新收政府信息公开申请数量", [9, 0, 0, 0, 0, 0, 9]),
    ("二、上年结转政府信息公开申请数量", [1, 0, 0, 0, 0, 0, 1]),
    ("三、本年度办理结果", []),
    ("（一）予以公开", [6, 0, 0, 0, 0, 0, 6]),
    ("（七）总计", [9, 0, 0, 0, 0, 0, 9]),
    ("四、结转下年度继续办理", [1, 0, 0, 0, 0, 0, 1]),
))
TABLE4 = ("行政复议\t\t\t\t\t行政诉讼\n结果维持\t结果纠正\t其他结果\t尚未审结\t总计\n"
          + "\t".join(["0"] * 15) + "\n")
BODIES = {
    "overview": OVERVIEW,
    "active_disclosure": TABLE2,
    "applications": "本年度收到申请情况见下表。\n" + TABLE3,
    "review_litigation": TABLE4,
    "problems": ("一是公开内容的针对性有待加强；二是政策解读形式较为单一。下一步，我局将进一步"
                 "丰富解读形式，提升公开质量。\n"),
    "other_matters": "本年度未收取信息处理费。\n",
}


def build(headings_by_key: dict[str, str], preamble: str = PREAMBLE,
          extra: dict[str, str] | None = None) -> tuple[str, dict[str, int]]:
    """A report whose sections carry the given heading lines (absent keys: no section).

    ``extra`` adds text at the start of a section's body.  Returns the text and,
    per section, the offset its heading's first character has.
    """
    text, starts = preamble, {}
    for key in HEADING_KEYS:
        if key not in headings_by_key:
            continue
        line = headings_by_key[key]
        lead = len(line) - len(line.lstrip(" \t\u3000#"))
        starts[key] = len(text) + lead
        text += line + "\n" + (extra or {}).get(key, "") + BODIES[key]
    return text, starts


def assert_sections(model: SectionModel, text: str, starts: dict[str, int]) -> list:
    sections = segment(Document(text=text), model)
    found = {s.key: s.start for s in sections if s.key != "preamble"}
    assert found == starts, [(s.key, s.heading) for s in sections]
    assert sections[0].key == "preamble" and sections[0].start == 0
    for a, b in zip(sections, sections[1:]):
        assert a.end == b.start
    assert sections[-1].end == len(text)
    for s in sections[1:]:
        assert text[s.start:s.start + len(s.heading)] == s.heading
    return sections


STYLES = {
    "canonical": CANONICAL,
    "arabic": ["1、总体情况", "2、主动公开政府信息情况", "3、收到和处理政府信息公开申请情况",
               "4、政府信息公开行政复议、行政诉讼情况", "5、存在的主要问题及改进情况",
               "6、其他需要报告的事项"],
    "space_after_number": ["一、总体情况", "2、 主动公开政府信息情况",
                           "三、收到和处理政府信息公开申请情况",
                           "四、政府信息公开行政复议、行政诉讼情况", "五、存在的主要问题及改进情况",
                           "六、其他需要报告的事项"],
    "misnumbered": ["一、总体情况", "二、主动公开政府信息情况", "三、收到和处理政府信息公开申请情况",
                    "3、政府信息公开行政复议、行政诉讼情况", "五、存在的主要问题及改进情况",
                    "六、其他需要报告的事项"],
    "bare": ["一、总体情况", "主动公开政府信息情况", "收到和处理政府信息公开申请情况",
             "四、政府信息公开行政复议、行政诉讼情况", "五、存在的主要问题及改进情况",
             "六、其他需要报告的事项"],
    "long_wordings": ["一、总体情况", "二、主动公开政府信息情况",
                      "三、行政机关收到和处理政府信息公开申请情况",
                      "四、因政府信息公开工作被申请行政复议、提起行政诉讼情况",
                      "五、政府信息公开工作存在的主要问题及改进情况", "六、其他需要报告事项"],
    "indented_spaces": ["    " + h for h in CANONICAL],
    "indented_tabs": ["\t" + h for h in CANONICAL],
    "indented_fullwidth": ["\u3000\u3000" + h for h in CANONICAL],
    "markdown": ["## " + h for h in CANONICAL],
    "dotted_arabic": ["1. 总体情况", "2. 主动公开政府信息情况", "3. 收到和处理政府信息公开申请情况",
                      "4. 政府信息公开行政复议、行政诉讼情况", "5. 存在的主要问题及改进情况",
                      "6. 其他需要报告的事项"],
    "part": ["第一部分 总体情况", "第二部分 主动公开政府信息情况",
             "第三部分 收到和处理政府信息公开申请情况",
             "第四部分 政府信息公开行政复议、行政诉讼情况", "第五部分 存在的主要问题及改进情况",
             "第六部分 其他需要报告的事项"],
}


@pytest.mark.parametrize("style", sorted(STYLES))
def test_heading_styles_are_found_at_their_first_character(model, style):
    text, starts = build(dict(zip(HEADING_KEYS, STYLES[style])))
    sections = assert_sections(model, text, starts)
    # the heading is the line as it appears, without its indentation or '#' marks
    assert [s.heading for s in sections[1:]] == [h.lstrip(" \t\u3000#") for h in STYLES[style]]


def test_split_heading_and_split_title(model):
    heads = dict(zip(HEADING_KEYS, CANONICAL))
    heads["applications"] = "三、收到和处理政府信息\n公开申请情况"
    title = "某市生态环境局2024年政府\n信息公开工作年度报告\n\n"
    text, starts = build(heads, preamble=title + PREAMBLE.split("\n", 2)[2])
    sections = assert_sections(model, text, starts)
    assert sections[3].key == "applications"
    assert sections[3].heading == "三、收到和处理政府信息"
    assert sections[0].end == starts["overview"]  # the split title stays in the preamble


def test_body_sentences_that_name_a_section_are_not_headings(model):
    heads = dict(zip(HEADING_KEYS, CANONICAL))
    extra = {"overview": "主动公开政府信息情况详见下表。\n",
             "review_litigation": "全年无涉及政府信息公开行政复议、行政诉讼\n",
             "problems": "关于其他需要报告的事项，见第六部分。\n"}
    text, starts = build(heads, extra=extra)
    assert_sections(model, text, starts)


def test_sentence_naming_a_section_that_is_missing_is_not_taken_for_it(model):
    heads = dict(zip(HEADING_KEYS, CANONICAL))
    del heads["review_litigation"]
    heads["problems"] = "四、存在的主要问题及改进情况"
    heads["other_matters"] = "五、其他需要报告的事项"
    extra = {"applications": "全年无涉及政府信息公开行政复议、行政诉讼。\n"}
    text, starts = build(heads, extra=extra)
    assert_sections(model, text, starts)


@pytest.mark.parametrize("missing", HEADING_KEYS)
def test_a_report_with_one_section_missing(model, missing):
    heads = {k: h for k, h in zip(HEADING_KEYS, CANONICAL) if k != missing}
    text, starts = build(heads)
    sections = assert_sections(model, text, starts)
    assert missing not in [s.key for s in sections]


def test_table_row_labels_named_like_sections_are_not_headings(model):
    # Without the review heading, 四、结转下年度继续办理 (a table-3 row label) is the
    # only line numbered 四 after section 3: it must still not become section 4.
    heads = {k: h for k, h in zip(HEADING_KEYS, CANONICAL) if k != "review_litigation"}
    text, starts = build(heads)
    assert "\t四、结转下年度继续办理" in text and "\t三、本年度办理结果" in text
    assert_sections(model, text, starts)


def test_seed_reports_segment_exactly(model, seed_reports):
    for r in seed_reports:
        pred = {"sections": [s.model_dump() for s in segment(Document(text=r.text), model)]}
        score = score_sections(r.gold, pred, r.text)
        assert score.counts.f1 == 1.0, (r.id, score.errors)


def test_held_out_seed_report_is_segmented_by_a_model_that_never_saw_it(corpus_reports):
    from training.train_sections import fit

    train = [r for r in corpus_reports if r.split != "test"]
    held = next(r for r in train if r.id.startswith("004"))  # bare headings 2 and 3
    m = fit([r for r in train if r is not held], n_variants=8)
    pred = {"sections": [s.model_dump() for s in segment(Document(text=held.text), m)]}
    score = score_sections(held.gold, pred, held.text)
    assert score.counts.f1 == 1.0, score.errors


@pytest.mark.parametrize("text", ["", "\n\n\n", "hello world", "一、", "总体情况",
                                  "今天天气很好。\n我们去公园散步。\n", "\t\t\n#\n###  \n",
                                  "一、总体情况\n" * 50, "x" * 10000])
def test_any_text_gives_contiguous_sections_starting_with_the_preamble(model, text):
    sections = segment(Document(text=text), model)
    assert sections[0].key == "preamble" and sections[0].start == 0
    for a, b in zip(sections, sections[1:]):
        assert a.end == b.start
    assert sections[-1].end == len(text)
    keys = [s.key for s in sections]
    assert len(keys) == len(set(keys))


# --- the decoder -----------------------------------------------------------------------

def test_decode_keeps_report_order_and_each_section_once():
    # Row 0 looks most like section 3, row 1 like section 1, row 2 like section 1 again.
    scores = np.full((3, 6), -5.0)
    scores[0, 2] = 1.0
    scores[1, 0] = 3.0
    scores[2, 0] = 2.0
    scores[2, 1] = 1.5
    assert decode(scores) == [(1, 0), (2, 1)]


def test_decode_leaves_out_what_is_not_worth_it():
    assert decode(np.full((4, 6), -1.0)) == []
    assert decode(np.zeros((0, 6))) == []


@pytest.mark.parametrize("line, expected", [
    ("二、主动公开政府信息情况", True), ("二、\t主动公开政府信息情况", True),
    ("行政许可\t2638\t\t", False), ("信息内容\t本年制发件数\t本年废止件数\t现行有效件数", False),
    ("三、本年度办理结果\t(一) 予以公开\t2\t0\t0", False), ("0", False), ("总", False),
    ("2024年，我局" + "深入推进政务公开工作" * 8, False),
])
def test_candidate_lines_leave_out_table_rows_and_paragraphs(line, expected):
    assert is_candidate(line) is expected


# --- numbering --------------------------------------------------------------------------

@pytest.mark.parametrize("line, system, value", [
    ("一、总体情况", "cn", 1), ("2、 主动公开", "arabic", 2), ("3.收到", "arabic", 3),
    ("４．复议", "arabic", 4), ("（五）存在", "paren_cn", 5), ("(六)其他", "paren_cn", 6),
    ("第三部分 收到", "part", 3), ("Ⅳ、复议", "roman", 4), ("一是加强", "cn_shi", 1),
    ("总体情况", "none", None), ("2024年工作", "none", None), ("1.5万条", "none", None),
])
def test_numbering_is_parsed(line, system, value):
    n = parse_numbering(line)
    assert (n.system, n.value) == (system, value)


# --- the augmenter ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def seed_variants(seed_reports):
    out = []
    for r in seed_reports:
        out += headings.variants(r, random.Random(f"test:{r.id}"), n=18)
    return out


def test_variants_keep_gold_exact(seed_variants):
    assert seed_variants
    for v in seed_variants:
        assert validate(v.gold, v.text, v.id) == []
        headings.check_headings(v)
        for m in v.gold["metrics"]:
            assert v.text[m["start"]:m["end"]] == m["text"]


def test_variants_cover_every_style_family(seed_variants):
    seen = {t for v in seed_variants for t in v.tags}
    assert seen == set(headings.STYLES)


def test_split_variant_heading_is_the_first_line(seed_variants):
    split = [v for v in seed_variants if "split" in v.tags]
    assert split
    found = False
    for v in split:
        for s in v.gold["sections"][1:]:
            line_end = v.text.find("\n", s["start"])
            assert v.text[s["start"]:line_end].rstrip() == s["heading"]
            nxt = v.text[line_end + 1:v.text.find("\n", line_end + 1)]
            found |= s["heading"] + nxt.strip() in {
                p + t for t in sum(map(list, headings.SECTION_VARIANTS.values()), [])
                for p in ("", *[f(n) for f in headings.SYSTEMS.values() for n in range(1, 8)])}
    assert found


def test_drop_variant_removes_the_section_its_metrics_and_table(seed_reports):
    r = seed_reports[0]
    for i in range(30):
        v = headings.render(r, random.Random(i), {"drop"}, suffix=f"d{i}")
        gone = set(HEADING_KEYS) - {s["key"] for s in v.gold["sections"]}
        if gone & {"active_disclosure", "applications", "review_litigation"}:
            break
    assert len(gone) == 1
    key = gone.pop()
    assert key not in v.gold.get("tables", {})
    assert validate(v.gold, v.text, v.id) == []
    assert len(v.text) < len(r.text)


def test_variants_are_reproducible(seed_reports):
    r = seed_reports[1]
    a = headings.variants(r, random.Random(5))
    b = headings.variants(r, random.Random(5))
    assert [(v.text, v.gold) for v in a] == [(v.text, v.gold) for v in b]


def test_model_scores_held_out_variants(corpus_reports, model):
    """The shipped model on variants it cannot have seen (a seed stream training never uses)."""
    tp = total = 0
    for r in corpus_reports:
        if not r.gold.get("sections"):
            continue
        for v in headings.variants(r, random.Random(f"unseen:{r.id}"), n=3):
            pred = {"sections": [s.model_dump() for s in segment(Document(text=v.text), model)]}
            c = score_sections(v.gold, pred, v.text).counts
            tp, total = tp + c.tp, total + c.tp + c.fp + c.fn
    assert tp / total >= 0.98


# --- the model file ---------------------------------------------------------------------

def test_model_round_trips_byte_identically(tmp_path, model):
    model.save(tmp_path)
    again = SectionModel.load(tmp_path)
    again.save(tmp_path / "again")
    assert (tmp_path / MODEL_FILE).read_bytes() == (tmp_path / "again" / MODEL_FILE).read_bytes()
    feats = [c.features for c in candidates(build(dict(zip(HEADING_KEYS, CANONICAL)))[0])]
    assert np.allclose(model.log_proba(feats), again.log_proba(feats))


def test_fast_scoring_matches_scikit_learn(model):
    from service import modelstore

    # the stored weights rebuilt as the scikit-learn estimator they were saved from
    estimator = modelstore.estimator_from_dict(modelstore.estimator_to_dict(model.estimator))
    feats = [c.features for c in candidates(build(dict(zip(HEADING_KEYS, CANONICAL)))[0])]
    proba = estimator.predict_proba(feats)
    order = [list(estimator.classes_).index(c) for c in ("none", *HEADING_KEYS)]
    assert np.allclose(np.exp(model.log_proba(feats)), proba[:, order], atol=1e-9)


def test_training_is_deterministic(tmp_path, seed_reports):
    from training.train_sections import fit

    for name in ("a", "b"):
        fit(seed_reports[:3], seed=1, n_variants=2).save(tmp_path / name)
    assert (tmp_path / "a" / MODEL_FILE).read_bytes() == (tmp_path / "b" / MODEL_FILE).read_bytes()


def test_missing_model_file_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="govreport train"):
        SectionModel.load(tmp_path)
