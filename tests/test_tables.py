"""The table reader (service/tables): seeds, every layout family, the 2019 layout,
blank cells, provenance, unknown rows, ingested grids, and garbage.

Layout-family tests render the held-out seed's tables in one family with the
augmenter and read them with a model fitted on the *other* seeds only.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service import ingest
from service.numbers import fold, parse_number
from service.tables import RowModel, read_tables
from service.tables.assemble import NULL_SCORE, align, read_rows
from service.tables.classify import row_features
from service.tables.grid import text_rows
from service.types import Document, Section
from training.augment.tables import Config, render_variant, variants
from training.scoring import score_cells
from training.train_tables import fit

ROOT = Path(__file__).resolve().parent.parent
HELD_OUT = "000_62418b5d58b13a7d"


@pytest.fixture(scope="module")
def shipped_model() -> RowModel:
    model = RowModel.load(ROOT / "models")
    assert model.classifier is not None, "models/table_rows.json.gz missing: run govreport train"
    return model


@pytest.fixture(scope="module")
def held_out(seed_reports):
    """(model fitted without the held-out seed, the held-out seed)."""
    held = next(r for r in seed_reports if r.id == HELD_OUT)
    model = fit([r for r in seed_reports if r.id != HELD_OUT], seed=0, n_variants=10)
    return model, held


def sections_of(report) -> list[Section]:
    return [Section(**s) for s in report.gold["sections"]]


def read(text: str, model: RowModel, sections: list[Section] | None = None):
    return read_tables(Document(text=text), sections or [], model)


def assert_provenance(text: str, result) -> None:
    """Every cell has a span, and the source there reads as the cell's value."""
    cells = {f"{t}.{r}.{c}": v for t, rows in result.tables.items()
             for r, cols in rows.items() for c, v in cols.items()}
    assert set(result.provenance) == set(cells)
    for name, (start, end) in result.provenance.items():
        value, raw = cells[name], text[start:end]
        if value is None:
            assert start == end, name
        elif isinstance(value, str):
            assert raw == value, name
        else:
            s = fold(raw).replace(",", "")
            sign = -1 if s[:1] in "-−" else 1
            assert sign * parse_number(s.lstrip("+-−")) == pytest.approx(value), (name, raw)


# --- the seeds ---------------------------------------------------------------------------


def test_seed_tables_come_out_exactly_as_gold(seed_reports, shipped_model):
    assert len(seed_reports) >= 5
    for report in seed_reports:
        result = read(report.text, shipped_model, sections_of(report))
        assert result.tables == report.gold["tables"], report.id
        assert result.layout == report.gold["layout"]
        assert result.unrecognised_rows == []
        assert all(c >= 0.9 for c in result.table_confidence.values()), result.table_confidence
        assert_provenance(report.text, result)


def test_tables_are_found_without_sections(seed_reports, shipped_model):
    """Segmentation missed every section: the tables are found in the whole text."""
    for report in seed_reports:
        assert read(report.text, shipped_model).tables == report.gold["tables"], report.id


def test_misplaced_section_boundaries(seed_reports, shipped_model):
    """A heading found too early or too late (even on a row of a table) moves no figure."""
    rng = random.Random(5)
    for report in seed_reports:
        for _ in range(6):
            secs = [dict(s) for s in report.gold["sections"]]
            i = rng.choice([k for k, s in enumerate(secs)
                            if s["key"] in ("applications", "review_litigation", "problems")])
            pos = secs[i]["start"] + rng.randint(-(secs[i - 1]["end"] - secs[i - 1]["start"]) * 2 // 5,
                                                 (secs[i]["end"] - secs[i]["start"]) * 2 // 5)
            pos = report.text.rfind("\n", 0, pos) + 1  # headings start lines
            secs[i]["start"] = secs[i - 1]["end"] = pos
            result = read(report.text, shipped_model, [Section(**s) for s in secs])
            assert result.tables == report.gold["tables"], (report.id, secs[i]["key"], pos)


def test_held_out_report_and_its_variants(held_out):
    model, held = held_out
    result = read(held.text, model, sections_of(held))
    assert score_cells(held.gold, result.model_dump()).counts.f1 == 1.0
    tp = fp = fn = 0
    for variant in variants(held, random.Random("test"), n=10):
        counts = score_cells(variant.gold, read(variant.text, model, sections_of(variant)).model_dump()).counts
        tp, fp, fn = tp + counts.tp, fp + counts.fp, fn + counts.fn
    assert tp > 1500
    assert 2 * tp / (2 * tp + fp + fn) >= 0.995


# --- layout families (augmented from the held-out seed) --------------------------------------

BASE = dict(ad_style="tab_rows", ap_style="tab_rows", rl_style="grid", rl_grid_style="tab_rows",
            label_mode="split_first", numbering=("cn", "full", "dot"))
FAMILIES = {
    # one row per line, tabs, empty cells where merged cells were (⇥⇥2⇥0…)
    "tab_rows": dict(artefact_blanks=True),
    # one cell per line led by a tab, rows separated by blank lines; headers broken over lines
    "cell_per_line": dict(ad_style="cell_per_line", ap_style="cell_per_line", rl_grid_style="cell_per_line"),
    # markdown, labels torn away from their figures (figures on the next row)
    "markdown_torn": dict(ad_style="markdown", ap_style="markdown", rl_grid_style="markdown",
                          label_mode="split_repeat", wrap_rate=1.0),
    # one small table per row under generic headers (| 类别 | 数据1 | … | 数据6 | 总计 |)
    "per_row_tables": dict(ad_style="per_row_tables", ap_style="per_row_tables"),
    # PDF-like text: space-separated figures, labels wrapped mid-word
    "space_rows_wrapped": dict(ad_style="space_rows", ap_style="space_rows", label_mode="joined_first",
                               wrap_rate=0.6),
    # labels joined in one cell, no numbering, bookmark artefacts, typos
    "joined_unnumbered_noisy": dict(label_mode="joined", numbering=("none", "none", "none"),
                                    bookmark_rate=0.5, noise_rate=0.5),
    # labels without parents, half-width brackets
    "leaf_half_brackets": dict(label_mode="leaf", numbering=("cn_dot", "half_space", "dun")),
    # parents on rows of their own (（三）不予公开 stated once for eight rows)
    "parent_rows": dict(label_mode="parent_rows", ap_style="markdown"),
    # column headers permuted and abbreviated
    "permuted_abbreviated": dict(permute=True, abbreviate=True, ap_style="markdown"),
    # table 4 as 15 figures on one line, or one per line, or three labelled rows
    "review_one_line": dict(rl_style="space_line"),
    "review_one_per_line": dict(rl_style="per_line", rl_grid_style="cell_per_line"),
    "review_group_rows": dict(rl_style="group_rows", rl_grid_style="markdown"),
    # full-width digits, thousands separators
    "fullwidth_thousands": dict(fullwidth=1.0, thousands=True),
    # blank, /, —, -, 无 cells
    "special_cells": dict(special_cells=8),
    # a page footer inside table 3
    "page_footer": dict(footer=True, ap_style="cell_per_line"),
    # rows omitted (absent from gold and output) and rows the template does not know
    "omitted_and_unknown_rows": dict(omit=3, omit_ad=1, unknown_rows=2),
    # the 2019 layout; a 2021 report printing the single （六）其他处理 row
    "layout_2019": dict(layout="2019"),
    "single_other_handling": dict(other_single=True, ap_style="markdown"),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_layout_family(family, held_out):
    model, held = held_out
    config = Config(**{**BASE, **FAMILIES[family]})
    variant = render_variant(held, random.Random(family), config=config)
    assert variant is not None
    result = read(variant.text, model, sections_of(variant))
    score = score_cells(variant.gold, result.model_dump())
    assert score.counts.f1 == 1.0, score.errors[:5]
    assert result.layout == variant.gold["layout"]
    assert_provenance(variant.text, result)
    # the spans are where the augmenter wrote each figure (a blank cell: where it is)
    gold_spans = variant.gold["provenance"]
    assert {k: tuple(v) for k, v in result.provenance.items()} == {
        k: tuple(v) for k, v in gold_spans.items() if k in result.provenance}
    if family == "omitted_and_unknown_rows":
        assert len(result.tables["applications"]) == len(variant.gold["tables"]["applications"])
        assert len(result.unrecognised_rows) >= 2
    if family == "special_cells":
        assert result.cell_flags and all(f.reason in ("blank", "dash", "none_word") for f in result.cell_flags)


def test_table_2_layouts_are_told_apart(held_out):
    model, held = held_out
    for layout in ("2019", "2021"):
        for style in ("tab_rows", "cell_per_line", "per_row_tables"):
            config = Config(**{**BASE, "ad_style": style, "layout": layout})
            variant = render_variant(held, random.Random(style), config=config)
            assert read(variant.text, model, sections_of(variant)).layout == layout, (layout, style)


# --- handmade reports -----------------------------------------------------------------------

REPORT_2019 = """一、总体情况
本机关2019年度依法公开政府信息。
二、主动公开政府信息情况
第二十条第（一）项
信息内容	本年新制作数量	本年新公开数量	对外公开总数量
规章	0	0	0
规范性文件	2	2	15
第二十条第（五）项
信息内容	上一年项目数量	本年增/减	处理决定数量
行政许可	12	-1	356
其他对外管理服务事项	3	0	20
第二十条第（六）项
信息内容	上一年项目数量	本年增/减	处理决定数量
行政处罚	40	+2	88
行政强制	5	0	3
第二十条第（八）项
信息内容	上一年项目数量	本年增/减
行政事业性收费	2	0
第二十条第（九）项
信息内容	采购项目数量	采购总金额
政府集中采购	6	123.5
三、收到和处理政府信息公开申请情况
（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）	申请人情况
	自然人	法人或其他组织	总计
		商业企业	科研机构	社会公益组织	法律服务机构	其他
一、本年新收政府信息公开申请数量	9	2	0	0	1	0	12
二、上年结转政府信息公开申请数量	1	0	0	0	0	0	1
三、本年度办理结果	（一）予以公开	4	1	0	0	0	0	5
	（二）部分公开（区分处理的，只计这一情形，不计其他情形）	1	0	0	0	0	0	1
	（三）不予公开	1．属于国家秘密	0	0	0	0	0	0	0
		2．其他法律行政法规禁止公开	0	0	0	0	0	0	0
		3．危及“三安全一稳定”	0	0	0	0	0	0	0
		4．保护第三方合法权益	1	0	0	0	0	0	1
		5．属于三类内部事务信息	0	0	0	0	0	0	0
		6．属于四类过程性信息	0	0	0	0	0	0	0
		7．属于行政执法案卷	0	0	0	0	0	0	0
		8．属于行政查询事项	0	0	0	0	0	0	0
	（四）无法提供	1．本机关不掌握相关政府信息	2	0	0	0	1	0	3
		2．没有现成信息需要另行制作	0	0	0	0	0	0	0
		3．补正后申请内容仍不明确	0	0	0	0	0	0	0
	（五）不予处理	1．信访举报投诉类申请	1	0	0	0	0	0	1
		2．重复申请	0	0	0	0	0	0	0
		3．要求提供公开出版物	0	0	0	0	0	0	0
		4．无正当理由大量反复申请	0	0	0	0	0	0	0
		5．要求行政机关确认或重新出具已获取信息	0	0	0	0	0	0	0
	（六）其他处理	1	1	0	0	0	0	2
	（七）总计	10	2	0	0	1	0	13
四、结转下年度继续办理	0	0	0	0	0	0	0
四、政府信息公开行政复议、行政诉讼情况
行政复议	行政诉讼
结果维持	结果纠正	其他结果	尚未审结	总计	未经复议直接起诉	复议后起诉
					结果维持	结果纠正	其他结果	尚未审结	总计	结果维持	结果纠正	其他结果	尚未审结	总计
1	0	0	0	1	0	0	0	1	1	0	0	0	0	0
五、存在的主要问题及改进情况
无。
"""


def test_2019_layout(shipped_model):
    result = read(REPORT_2019, shipped_model)
    assert result.layout == "2019"
    active = result.tables["active_disclosure"]
    assert active["regulations"] == {"made": 0, "published": 0, "total_public": 0}
    assert active["licensing"] == {"prev_year_items": 12, "change": -1, "decisions": 356}
    assert active["other_services"] == {"prev_year_items": 3, "change": 0, "decisions": 20}
    assert active["penalty"]["change"] == 2
    assert active["fees"] == {"prev_year_items": 2, "change": 0}
    assert active["procurement"] == {"projects": 6, "amount": 123.5}
    apps = result.tables["applications"]
    assert apps["other_handling"] == {"natural_person": 1, "commercial": 1, "research": 0, "social_welfare": 0,
                                      "legal_service": 0, "other_org": 0, "total": 2}
    assert not any(k.startswith("other_no") or k == "other_misc" for k in apps)
    # the rows after the single （六） row are not shifted
    assert apps["results_total"]["total"] == 13 and apps["carried_forward"]["total"] == 0
    assert result.tables["review_litigation"]["litigation_direct"] == {
        "maintained": 0, "corrected": 0, "other": 0, "pending": 1, "total": 1}
    assert_provenance(REPORT_2019, result)


def test_2021_report_printing_the_single_other_handling_row(shipped_model):
    """The trap for a reader that lays figures onto the template in order."""
    start = REPORT_2019.index("三、收到和处理")
    text = "二、主动公开政府信息情况\n第二十条第（一）项\n信息内容\t本年制发件数\t本年废止件数\t现行有效件数\n" \
           "规章\t0\t0\t0\n行政规范性文件\t3\t1\t14\n" + REPORT_2019[start:]
    result = read(text, shipped_model)
    assert result.layout == "2021"
    apps = result.tables["applications"]
    assert list(apps)[-3:] == ["other_handling", "results_total", "carried_forward"]
    assert apps["results_total"]["natural_person"] == 10
    assert apps["denied_third_party"]["total"] == 1 and apps["unable_not_held"]["legal_service"] == 1


def test_numbering_decides_between_plausible_rows(shipped_model):
    """（二） tells a damaged label (部公开, 予以公开 omitted) from its neighbour; a report
    numbering its top rows its own way (（一）本年新收…) loses nothing."""
    damaged = (REPORT_2019.replace("三、本年度办理结果\t（一）予以公开\t4\t1\t0\t0\t0\t0\t5\n", "")
               .replace("\t（二）部分公开（区分处理的，只计这一情形，不计其他情形）", "三、本年度办理结果\t(二) 部公开"))
    apps = read(damaged, shipped_model).tables["applications"]
    assert "granted" not in apps and apps["partially_granted"]["total"] == 1
    renumbered = (REPORT_2019.replace("一、本年新收", "（一）本年新收").replace("二、上年结转", "（二）上年结转")
                  .replace("四、结转下年度", "（四）结转下年度"))
    assert read(renumbered, shipped_model).tables == read(REPORT_2019, shipped_model).tables


MARKDOWN_MERGED = """三、收到和处理政府信息公开申请情况

| （本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和） |  | 申请人情况 |  |  |  |  |  |  |
|---|---|---|---|---|---|---|---|---|
|  |  | 自然人 | 法人或其他组织 |  |  |  |  | 总计 |
|  |  |  | 商业企业 | 科研机构 | 社会公益组织 | 法律服务机构 | 其他 |  |
| 一、本年新收政府信息公开申请数量 |  | 31 | 4 |  | 1 | 0 | 0 | 36 |
| 二、上年结转政府信息公开申请数量 |  | 2 | 0 | 0 | 0 | 0 | 0 | 2 |
| 三、本年度办理结果 | （一）予以公开 | 12 | 2 | 0 | 0 | 0 | 0 | 14 |
|  | （二）部分公开（区分处理的，只计这一情形，不计其他情形） | 3 | 0 | 0 | 0 | 0 | 0 | 3 |
|  | （三）不予公开 | 1.属于国家秘密 | 0 | 0 | 0 | 0 | 0 | 0 | 0 |
|  |  | 4.保护第三方合法权益 | 2 | 0 | 0 | 0 | 0 | 0 | 2 |
|  |  | 9.其他情形 | 1 | 0 | 0 | 0 | 0 | 0 | 1 |
|  | （四）无法提供 | 1.本机关不掌握相关政府信息 | 10 | 1 | 0 | 1 | 0 | 0 | 12 |
|  | （五）不予处理 | 1.信访举报投诉类申请 | 3 | 0 | 0 | 0 | 0 | 0 | 3 |
|  | （六）其他处理 | 2 | 1 | 0 | 0 | 0 | 0 | 3 |
|  | （七）总计 | 33 | 4 | 0 | 1 | 0 | 0 | 38 |
| 四、结转下年度继续办理 |  | 0 | 0 | 0 | 0 | 0 | 0 | 0 |

四、政府信息公开行政复议、行政诉讼情况

行政复议 行政诉讼
结果维持 结果纠正 其他结果 尚未审结 总计 未经复议直接起诉 复议后起诉
结果维持 结果纠正 其他结果 尚未审结 总计 结果维持 结果纠正 其他结果 尚未审结 总计
2 1 0 0 3 1 0 — 0 1 0 0 0 0 0

五、存在的主要问题及改进情况
"""


def test_blank_cell_is_null_and_flagged(shipped_model):
    text = MARKDOWN_MERGED
    result = read(text, shipped_model)
    new = result.tables["applications"]["new_received"]
    assert new == {"natural_person": 31, "commercial": 4, "research": None, "social_welfare": 1,
                   "legal_service": 0, "other_org": 0, "total": 36}
    flags = {f.cell: f for f in result.cell_flags}
    assert flags["applications.new_received.research"].reason == "blank"
    assert flags["applications.new_received.research"].raw == ""
    start, end = result.provenance["applications.new_received.research"]
    assert start == end and text[start - 1] == "|"
    # a dash is reported as it reads, and flagged
    assert result.tables["review_litigation"]["litigation_direct"]["other"] == "—"
    assert flags["review_litigation.litigation_direct.other"].reason == "dash"
    assert_provenance(text, result)


def test_omitted_rows_are_absent_and_unknown_rows_reported(shipped_model):
    result = read(MARKDOWN_MERGED, shipped_model)
    apps = result.tables["applications"]
    for omitted in ("denied_prohibited_by_law", "unable_unclear", "rejected_duplicate", "other_no_correction"):
        assert omitted not in apps
    assert apps["denied_third_party"]["total"] == 2
    assert apps["other_handling"]["commercial"] == 1
    assert [u.text.split("|")[0].strip() for u in result.unrecognised_rows] == ["9.其他情形"]
    unknown = result.unrecognised_rows[0]
    assert unknown.table == "applications"
    assert MARKDOWN_MERGED[unknown.start:unknown.end] == unknown.text
    # with rows missing, the table is less certain than the seeds' full tables
    assert result.table_confidence["applications"] < 0.9
    # segmentation that found nothing but a preamble still reports it
    preamble = [Section(key="preamble", heading="", start=0, end=len(MARKDOWN_MERGED))]
    again = read(MARKDOWN_MERGED, shipped_model, preamble)
    assert again.tables == result.tables and again.unrecognised_rows == result.unrecognised_rows


def test_table_4_one_line_and_one_per_line(shipped_model):
    header = ("四、政府信息公开行政复议、行政诉讼情况\n行政复议\t行政诉讼\n"
              "结果维持\t结果纠正\t其他结果\t尚未审结\t总计\t未经复议直接起诉\t复议后起诉\n"
              "\t\t\t\t\t结果维持\t结果纠正\t其他结果\t尚未审结\t总计\t结果维持\t结果纠正\t其他结果\t尚未审结\t总计\n")
    figures = ["3", "1", "0", "2", "6", "１", "0", "0", "0", "1", "0", "0", "1", "1", "2"]
    want = {"review": {"maintained": 3, "corrected": 1, "other": 0, "pending": 2, "total": 6},
            "litigation_direct": {"maintained": 1, "corrected": 0, "other": 0, "pending": 0, "total": 1},
            "litigation_after_review": {"maintained": 0, "corrected": 0, "other": 1, "pending": 1, "total": 2}}
    tail = "\n五、存在的主要问题及改进情况\n无。\n"
    for joiner in (" ", "\n", "\t"):
        text = header + joiner.join(figures) + tail
        result = read(text, shipped_model)
        assert result.tables["review_litigation"] == want, repr(joiner)
        assert_provenance(text, result)


def test_page_footer_inside_a_table(shipped_model, seed_reports):
    report = next(r for r in seed_reports if r.id == "003_ffddc707919da3fb")
    at = report.text.index("\t\t5. 属于三类内部事务信息")
    text = report.text[:at] + "-3-\n\f\n" + report.text[at:]
    assert read(text, shipped_model).tables == report.gold["tables"]


def test_ingested_grids_are_used(shipped_model, seed_reports):
    """HTML/DOCX/PDF ingesters hand over SourceTables; the reader uses their cells."""
    report = next(r for r in seed_reports if r.id == HELD_OUT)
    for suffix in (".html", ".docx"):
        path = ROOT / "tests" / "fixtures" / (HELD_OUT + suffix)
        doc = ingest.read(path.read_bytes(), filename=path.name)
        assert doc.tables, suffix
        result = read_tables(doc, [], shipped_model)
        assert result.tables == report.gold["tables"], suffix
        assert_provenance(doc.text, result)


# --- parts ---------------------------------------------------------------------------------


def test_alignment_is_the_best_monotone_assignment():
    """The sparse alignment equals an exhaustive search on small random problems."""
    rng = np.random.default_rng(0)

    def best(scores, i=0, last=-1):
        if i == len(scores):
            return 0.0
        options = [NULL_SCORE + best(scores, i + 1, last)]
        options += [scores[i, j] + best(scores, i + 1, j) for j in range(last + 1, scores.shape[1])]
        return max(options)

    for _ in range(150):
        n, m = rng.integers(1, 6), rng.integers(1, 7)
        scores = np.log(rng.dirichlet(np.ones(m) * 0.3, size=n) + 1e-9)
        assignment = align(scores)
        used = [j for j in assignment if j is not None]
        assert used == sorted(set(used))
        total = sum(NULL_SCORE if j is None else scores[i, j] for i, j in enumerate(assignment))
        assert total == pytest.approx(best(scores))


def test_fit_is_deterministic_and_round_trips(seed_reports, tmp_path):
    one = [seed_reports[0]]
    a, b = fit(one, seed=3, n_variants=2), fit(one, seed=3, n_variants=2)
    a.save(tmp_path / "a")
    b.save(tmp_path / "b")
    name = "table_rows.json.gz"
    assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    loaded = RowModel.load(tmp_path / "a")
    report = seed_reports[1]
    assert read(report.text, loaded).tables == read(report.text, a).tables


def test_unfitted_model_still_reads_the_seeds(seed_reports, tmp_path):
    """No model file: a template-similarity fallback, not a crash."""
    model = RowModel.load(tmp_path)
    assert model.classifier is None
    report = seed_reports[0]
    assert read(report.text, model, sections_of(report)).tables == report.gold["tables"]


_ALPHABET = list("\t\n |-—/无0123456789１２,.（）()一二三四五六七、规章行政许可总计自然人其他结果维持行政复议ab")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(alphabet=_ALPHABET, max_size=400), cut=st.tuples(st.integers(0, 400), st.integers(0, 400)),
       key=st.sampled_from(["active_disclosure", "applications", "review_litigation", "overview"]))
def test_garbage_never_crashes(shipped_model, text, cut, key):
    start, end = sorted(min(c, len(text)) for c in cut)
    sections = [Section(key=key, heading="", start=start, end=end)] if end > start else []
    result = read(text, shipped_model, sections)
    for s, e in result.provenance.values():
        assert 0 <= s <= e <= len(text)
    for conf in result.table_confidence.values():
        assert 0.0 <= conf <= 1.0


def test_batched_logits_equal_each_rows_own_dot_product(seed_reports, shipped_model):
    """The rows a document has not shown before are scored in one gather; each must
    score as its own features times the weights, and a second reading (from the
    cache) must give the same probabilities."""
    report = seed_reports[0]
    rows = [c.row for c in read_rows(Document(text=report.text), []).candidates]
    model = RowModel(shipped_model.vocabulary, shipped_model.classifier, shipped_model.meta)
    first = model.predict_proba(rows)
    coef, vocabulary = model.classifier.coef_, model.vocabulary
    for row, proba in zip(rows, first):
        feats = row_features(row)
        logits = sum(v * coef[:, vocabulary[k]] for k, v in feats.items() if k in vocabulary)
        logits = logits + model.classifier.intercept_
        expected = np.exp(logits - logits.max())
        assert np.allclose(proba, expected / expected.sum(), atol=1e-12)
    assert np.array_equal(model.predict_proba(rows), first)


def test_cell_per_line_label_wrapped_over_lines():
    """One cell per line: a line without the leading tab continues the label cell
    above it (商业\\n企业), but after a figure it is a row of its own."""
    text = "\t商业\n企业\n\t3\n\t4\n\n\t自然人\n\t5\n备注\n"
    rows = text_rows(text)
    assert [[c.text for c in r.cells] for r in rows] == [["商业\n企业", "3", "4"], ["自然人", "5"], ["备注"]]
    first = rows[0].cells[0]
    assert text[first.start:first.end] == "商业\n企业"
    assert (rows[0].start, rows[0].end) == (1, text.index("4") + 1)


def test_markdown_line_of_a_lone_bar_is_an_empty_row():
    text = "| 规章 | 1 | 2 |\n|\n"
    rows = text_rows(text)
    assert [[c.text for c in r.cells] for r in rows] == [["规章", "1", "2"], []]
    assert rows[1].start == rows[1].end == text.index("\n|") + 1


# --- labels torn from their figures (a PDF-to-markdown converter) ------------------------

_TORN = ("partially_granted", "denied_internal_affairs", "unable_not_held", "unable_needs_creation",
         "rejected_excessive")


def _torn_table_3(torn: tuple[str, ...], drop: str | None = None) -> tuple[str, dict]:
    """Table 3 as markdown rows with distinct figures; the rows in ``torn`` print no
    label beside their figures (their labels float above, torn in pieces), and the row
    ``drop`` is missing altogether.  Returns the text and the rows that must be read.

    As a converter tears them: the label's pieces come after the figures, in a block
    of their own, and the next row's label follows them."""
    from service.template import APPLICATION_ROWS_2021

    lines = ["三、收到和处理政府信息公开申请情况",
             "| 申请人情况 | 自然人 | 商业企业 | 科研机构 | 社会公益组织 | 法律服务机构 | 其他 | 总计 |",
             "|---|---|---|---|---|---|---|---|"]
    want = {}
    for i, (key, label) in enumerate(APPLICATION_ROWS_2021.items()):
        if key == drop:
            continue
        figures = [i + 1, i % 3, 0, 1, 0, 0]
        want[key] = dict(zip(("natural_person", "commercial", "research", "social_welfare",
                              "legal_service", "other_org", "total"), [*figures, sum(figures)]))
        cells = " | ".join(str(v) for v in want[key].values())
        if key in torn:
            lines += [f"| {cells} |", "|---|---|---|---|---|---|---|", "", label[:6], label[6:]]
        else:
            lines.append(f"| {label} | {cells} |")
    lines += ["", "四、政府信息公开行政复议、行政诉讼情况", ""]
    return "\n".join(lines), want


def test_rows_without_labels_take_the_template_rows_between_their_neighbours(shipped_model):
    text, want = _torn_table_3(_TORN)
    result = read(text, shipped_model)
    assert result.tables["applications"] == want
    assert_provenance(text, result)


def test_rows_without_labels_are_not_placed_when_their_count_does_not_fit(shipped_model):
    # 5.要求行政机关确认… is missing: between 3.要求提供公开出版物 and the next rows read
    # with their labels there are fewer rows than template rows, so which is which is
    # unknown, and the unlabelled row (4.无正当理由大量反复申请's) is not placed
    text, want = _torn_table_3(_TORN, drop="rejected_confirmation")
    apps = read(text, shipped_model).tables["applications"]
    assert "rejected_excessive" not in apps and "rejected_confirmation" not in apps
    # the gaps that still fit are read, and nothing read is wrong
    assert apps["partially_granted"] == want["partially_granted"]
    assert all(apps[key] == want[key] for key in apps)


@pytest.mark.parametrize("shape", ["flat", "glued"])
def test_torn_labels_in_text_that_lost_its_line_breaks(shape):
    """The same torn table with its line breaks (flat) or all whitespace (glued) lost:
    rows and torn labels run together in one line of bars, and are still told apart."""
    import re

    from service.pipeline import read_report

    text, want = _torn_table_3(_TORN)
    text = re.sub(r"\n" if shape == "flat" else r"\s+", "", text)
    result = read_report("一、总体情况\n本机关全年收到政府信息公开申请。\n" + text)
    assert result.tables["applications"] == want


def test_markdown_rows_run_together_are_split_where_a_label_follows_a_figure():
    rows = text_rows("|0|0|1.属于国家秘密|2|0|\n规章| 1 | 0 | 3 |\n")
    cells = [[(c.text, c.kind) for c in r.cells] for r in rows]
    assert cells == [[("0", "value"), ("0", "value")],
                     [("1.属于国家秘密", "label"), ("2", "value"), ("0", "value")],
                     # text before the first bar: a line of its own that lost its break
                     [("规章", "label")],
                     [("1", "value"), ("0", "value"), ("3", "value")]]


def test_a_row_whose_blank_cells_the_text_dropped_is_placed_by_the_column_identities(shipped_model):
    """A page's text without its empty cells prints 部分公开 (3, blank, blank, 2, blank,
    blank, 5) as ``3 2 5``: which columns the figures are in is what makes every column
    of table 3 add up; a row the identities cannot place stays unknown."""
    header = ("三、收到和处理政府信息公开申请情况\n"
              "申请人情况\t自然人\t商业企业\t科研机构\t社会公益组织\t法律服务机构\t其他\t总计\n")
    rows = [("一、本年新收政府信息公开申请数量", "7 1 0 2 0 0 10"), ("二、上年结转政府信息公开申请数量", "0 0 0 0 0 0 0"),
            ("三、本年度办理结果（一）予以公开", "4 1 0 0 0 0 5"),
            ("（二）部分公开（区分处理的，只计这一情形，不计其他情形）", "3 2 5"),
            ("（七）总计", "7 1 0 2 0 0 10"), ("四、结转下年度继续办理", "0 0 0 0 0 0 0")]
    text = header + "".join(label + "\t" + figures.replace(" ", "\t") + "\n" for label, figures in rows)
    apps = read(text, shipped_model).tables["applications"]
    assert apps["partially_granted"] == {"natural_person": 3, "commercial": None, "research": None,
                                         "social_welfare": 2, "legal_service": None, "other_org": None,
                                         "total": 5}
    # without the total row the columns cannot tell: the figures are left unknown, not guessed
    text = header + "".join(label + "\t" + figures.replace(" ", "\t") + "\n" for label, figures in rows
                            if label != "（七）总计")
    partial = read(text, shipped_model).tables["applications"]["partially_granted"]
    assert partial["natural_person"] is None and partial["social_welfare"] is None
    assert partial["total"] == 5


def test_labels_broken_at_every_character_run_one_cell_per_line(shipped_model):
    """get_text("\\n") of a Word-made page: a label's brackets, numbers and words each
    on a line of their own (（ 二 ） 部分公开 …), then the figures one per line."""
    pieces = {"new_received": ["一", "、本年新收政府信息公开申请数量"],
              "carried_over": ["二", "、上年结转政府信息公开申请数量"],
              "granted": ["三", "、本", "年", "度", "办", "理", "结", "果", "（", "一", "）", "予以公开"],
              "partially_granted": ["（", "二", "）", "部分公开", "（", "区分处理的，只计", "这一情形，不计其他情形", "）"],
              "denied_state_secret": ["（", "三", "）", "不予公开", "1.", "属于国家秘密"],
              "denied_three_safeties": ["3.", "危及", "“", "三安全一稳定", "”"],
              "results_total": ["（", "七", "）", "总计"],
              "carried_forward": ["四、结转下年度继续办理"]}
    lines = ["三、收到和处理政府信息公开申请情况", "申请人情况", "自然人", "法人或其他组织", "总计", "商业企业",
             "科研机构", "社会公益组织", "法律服务机构", "其他"]
    totals = {}
    for i, (key, label) in enumerate(pieces.items()):
        # only natural persons applied: the page's text dropped the five blank cells
        totals[key] = i + 1
        lines += label + [str(i + 1), str(i + 1)]
    text = "\n".join(lines + ["四、政府信息公开行政复议、行政诉讼情况", ""])
    apps = read(text, shipped_model).tables["applications"]
    assert {key: row["total"] for key, row in apps.items()} == totals


def test_figures_one_per_tab_led_line_after_a_label_line(shipped_model):
    """A row's label on a line, then its figures one per line, each led by a tab (the
    empty cell the tab makes is not a figure), in a block with tab rows below it."""
    text = ("三、收到和处理政府信息公开申请情况\n"
            "申请人情况\t自然人\t商业企业\t科研机构\t社会公益组织\t法律服务机构\t其他\t总计\n"
            "（七）总计\t120\t7\t0\t0\t0\t0\t127\n"
            "四、结转下年度继续办理\n\n\t113\n\t1\n\t0\n\t0\n\t0\n\t0\n\t114\n"
            "四、政府信息公开行政复议、行政诉讼情况\n类别\t结果维持\t结果纠正\t其他结果\t尚未审结\t总计\n"
            "行政复议\t5\t0\t5\t0\t10\n")
    apps = read(text, shipped_model).tables["applications"]
    assert apps["carried_forward"] == {"natural_person": 113, "commercial": 1, "research": 0,
                                       "social_welfare": 0, "legal_service": 0, "other_org": 0, "total": 114}


def test_the_templates_three_header_rows_on_one_line_put_the_total_last():
    """申请人情况 … 总计 is the template's first header row (总计 spans all three, so a
    text that lost the rows reads it before 自然人): still the last column.  A header
    row that starts with 总计 of its own keeps it first."""
    from service.tables.headers import applicant_order
    from service.template import APPLICANT_COLUMNS

    flattened = ["申请人情况", "总计", "自然人", "法人或其他组织", "商业企业", "科研机构", "社会公益组织",
                 "法律服务机构", "其他"]
    assert applicant_order([flattened]) == list(APPLICANT_COLUMNS)
    own = ["总计", "自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他"]
    assert applicant_order([own])[0] == "total"


def _one_cell_per_line_table_3(blank: set[str]) -> tuple[str, dict]:
    """Table 3 as a crawler's get_text("\\n") prints it: every cell on a line of its own
    and the empty cells gone, so a row left all blank is a label and nothing more.  The
    rows in ``blank`` print no figure; the others print their seven figures, one per line
    (natural persons only).  Returns the text and each row's total (None: all blank)."""
    from service.template import APPLICATION_ROWS_2021

    lines = ["三、收到和处理政府信息公开申请情况", "申请人情况", "自然人", "法人或其他组织", "总计", "商业企业",
             "科研机构", "社会公益组织", "法律服务机构", "其他"]
    totals: dict[str, int | None] = {}
    for i, (key, label) in enumerate(APPLICATION_ROWS_2021.items()):
        label = label.replace("三、本年度办理结果 ", "").replace("（三）不予公开 ", "（三）不予公开\n") \
            .replace("（四）无法提供 ", "（四）无法提供\n").replace("（五）不予处理 ", "（五）不予处理\n") \
            .replace("（六）其他处理 ", "（六）其他处理\n")
        lines.append(label)
        if key in blank:
            totals[key] = None
        else:
            totals[key] = 10 + i
            lines += [str(10 + i), "0", "0", "0", "0", "0", str(10 + i)]
    lines += ["四、政府信息公开行政复议、行政诉讼情况", ""]
    return "\n".join(lines), totals


def test_rows_left_blank_in_a_table_printed_one_cell_per_line(shipped_model):
    """A label followed straight by the next row's label (2. then 3.; 5. then （六）; a
    row numbered like a group, （二）, then （三）) is a row whose cells are all blank:
    each cell null and flagged blank, never a figure taken from another row.  A group
    label followed by its own first row (（三）不予公开 then 1.) is not a row."""
    blank = {"partially_granted", "denied_prohibited_by_law", "denied_three_safeties",
             "rejected_confirmation", "other_misc"}
    text, totals = _one_cell_per_line_table_3(blank)
    result = read(text, shipped_model)
    apps = result.tables["applications"]
    for key in blank:
        assert apps[key] == dict.fromkeys(apps[key], None) and len(apps[key]) == 7, key
        flagged = {f.cell for f in result.cell_flags if f.reason == "blank"}
        assert f"applications.{key}.total" in flagged
    assert {key: row["total"] for key, row in apps.items() if key not in blank} == \
        {key: total for key, total in totals.items() if key not in blank}


def test_labels_without_figures_above_a_converters_rows_are_not_taken_for_blank_rows(shipped_model):
    """Torn labels float above rows of figures printed several to a line (a PDF
    converter): there a label followed by the next row's label says nothing of its
    cells, and no row is read as blank."""
    text, want = _torn_table_3(_TORN)
    apps = read(text, shipped_model).tables["applications"]
    assert all(value is not None for row in apps.values() for value in row.values())


def test_a_bookmark_inside_a_glued_table_4_header():
    """A Word bookmark left in table 4's header ([bookmark:_Hlk67039688]) by a text with
    every space lost: its digits are no figures, and the 15 glued zeros after the header
    are still table 4."""
    from service.pipeline import read_report

    text = ("一、总体情况本机关全年未收到行政复议。四、政府信息公开行政复议、行政诉讼情况"
            "行政复议行政诉讼结果维持结果纠正其他结果尚未审结总计未经复议直接起诉[bookmark:_Hlk67039688]"
            "复议后起诉结果维持结果纠正其他结果尚未审结总计结果维持结果纠正其他结果尚未审结总计"
            "000000000000000五、存在的主要问题及改进情况无。")
    review = read_report(text).tables["review_litigation"]
    assert review == {group: dict.fromkeys(("maintained", "corrected", "other", "pending", "total"), 0)
                      for group in ("review", "litigation_direct", "litigation_after_review")}


def test_a_table_title_without_its_number_run_into_the_header():
    """Every space lost and the section's number missing: 主动公开政府信息情况 runs
    straight into table 2's header and its first row; the rows are still read."""
    from service.pipeline import read_report

    text = ("一、总体情况本机关依法公开政府信息。主动公开政府信息情况第二十条第（一）项信息内容本年制发件数"
            "本年废止件数现行有效件数规章000行政规范性文件3114第二十条第（五）项信息内容本年处理决定数量"
            "行政许可18570三、收到和处理政府信息公开申请情况")
    active = read_report(text).tables["active_disclosure"]
    assert active["regulations"] == {"issued": 0, "repealed": 0, "in_force": 0}
    assert active["licensing"] == {"decisions": 18570}


def test_a_glued_row_that_does_not_add_up_is_null_with_every_cut_as_candidates():
    """191000019 for seven cells where no cut adds up (the report's own row is wrong:
    19 + 1 printed beside a total of 19): no cell is guessed, and the candidates list
    what every cut the digits allow would give, the row as printed among them."""
    from service.pipeline import read_report

    text = ("三、收到和处理政府信息公开申请情况申请人情况自然人法人或其他组织总计商业企业科研机构社会公益组织"
            "法律服务机构其他一、本年新收政府信息公开申请数量 190000019二、上年结转政府信息公开申请数量 0000000"
            "三、本年度办理结果（一）予以公开 191000019（七）总计 190000019四、结转下年度继续办理 0000000"
            "四、政府信息公开行政复议、行政诉讼情况")
    result = read_report(text)
    granted = result.tables["applications"]["granted"]
    assert all(value is None for value in granted.values())
    flags = {f.cell: f for f in result.cell_flags}
    printed = {"natural_person": 19, "commercial": 1, "research": 0, "total": 19}
    for col, value in printed.items():
        flag = flags[f"applications.granted.{col}"]
        assert flag.reason == "ambiguous_split" and value in flag.candidates


def test_a_browsers_copied_text_of_a_table_whose_cells_hold_paragraphs(shipped_model):
    """innerText (what a user copies from the browser) of a Word-made page: each cell's
    <p> stands between blank lines and a lone tab separates two cells; a run of tabs
    holds empty cells, a no-break space is an empty cell, and a run ending in empty
    cells ends the row."""
    def row(*cells: str) -> str:
        return "\n\n\t\n\n".join(cells)

    header = row("申请人情况", "自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计")
    new = "一、本年新收政府信息公开申请数量\n\n\t\n\n26\n\n\t\n\n\t\n\n\t\n\n\t\n\n\t\n\n\t\n\n26"
    granted = "（一）予以公开\n\n\t\n\n5\n\n\t\xa0\t\xa0\t\n\n2\n\n\t\n\n0\n\n\t\n\n0\n\n\t\n\n7"
    withheld = "（二）部分公开（区分处理的，只计这一情形，不计其他情形）\n\n\t\n\n3\n\n\t\xa0\t\xa0\t\xa0\t\xa0\t\xa0\t\xa0"
    text = "\n\n\n\n\n".join(["三、收到和处理政府信息公开申请情况", header, new, granted, withheld,
                              "四、政府信息公开行政复议、行政诉讼情况"])
    apps = read(text, shipped_model).tables["applications"]
    blank6 = dict.fromkeys(("commercial", "research", "social_welfare", "legal_service", "other_org"), None)
    assert apps["new_received"] == {"natural_person": 26, **blank6, "total": 26}
    assert apps["granted"] == {"natural_person": 5, "commercial": None, "research": None,
                               "social_welfare": 2, "legal_service": 0, "other_org": 0, "total": 7}
    assert apps["partially_granted"] == {"natural_person": 3, **blank6, "total": None}


def test_labels_printed_before_a_column_of_their_figures_are_not_blank_rows(shipped_model):
    """A PDF's raw text (pdftotext without -layout) can print a run of row labels and
    then all their figures, one per line: the label before the figures then collects
    more figures than a row has, and the labels above it are not taken for blank rows
    (their cells are unknown, never null as if blank)."""
    from service.template import APPLICATION_ROWS_2021

    labels = dict(list(APPLICATION_ROWS_2021.items())[4:8])  # 1.属于国家秘密 … 4.保护第三方合法权益
    first, *rest = labels.items()
    lines = ["三、收到和处理政府信息公开申请情况", "申请人情况", "自然人", "法人或其他组织", "总计", "商业企业",
             "科研机构", "社会公益组织", "法律服务机构", "其他",
             first[1].split()[-1], "3", "0", "0", "0", "0", "0", "3"]
    lines += [label.split()[-1] for _, label in rest]
    for i, _ in enumerate(rest):
        lines += [str(i + 5), "0", "0", "0", "0", "0", str(i + 5)]
    text = "\n".join(lines + ["四、政府信息公开行政复议、行政诉讼情况", ""])
    apps = read(text, shipped_model).tables["applications"]
    assert apps[first[0]]["total"] == 3
    for key, _ in rest:
        assert key not in apps or all(v is not None for v in apps[key].values()), key


def test_a_columns_header_word_above_its_figures_is_not_a_row():
    """pdftotext's raw text of a PDF prints a column's header word and then the figures
    under it (现行有效件数 0 14; table 4's 总计 11): such a word is no row label, so
    neither is read as a row (not 政府集中采购 with two figures, not table 3's
    （七）总计)."""
    from service.pipeline import read_report

    text = ("二、主动公开政府信息情况\n第二十条第（一）项\n本年制发件数\n本年废止件数\n0\n0\n3\n1\n"
            "第二十条第（五）项\n本年处理决定数量\n2638\n现行有效件数\n0\n14\n\n"
            "三、收到和处理政府信息公开申请情况\n一、本年新收政府信息公开申请数量\n（七）总计\n\n"
            "四、政府信息公开行政复议、行政诉讼情况\n结果\n维持\n\n结果\n纠正\n\n8\n\n2\n\n行政复议\n"
            "其他 尚未\n结果 审结\n0\n\n1\n\n总计\n11\n\n五、存在的主要问题及改进情况\n无。")
    tables = read_report(text).tables
    assert "procurement" not in tables.get("active_disclosure", {})
    assert "results_total" not in tables.get("applications", {})
