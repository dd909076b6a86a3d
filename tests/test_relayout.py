"""Reports whose line breaks or whitespace were lost, and figures glued together."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from service.pipeline import extract
from service.relayout import relayout
from service.tables.glued import read_glued, resolve_columns, row_sum_rule
from service.tables.grid import GridCell
from service.types import Document
from training.corpus import load_corpus

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "real"
#: The project's annotated reports that have tables (the prose corpus has none).
SEEDS = [r for r in load_corpus(ROOT / "corpus") if r.gold.get("tables")]


def _cells(tables: dict) -> dict[str, object]:
    return {f"{t}.{r}.{c}": v for t, rows in tables.items() for r, cols in rows.items() for c, v in cols.items()}


def _compare(gold: dict, pred: dict) -> tuple[int, int, list[str]]:
    """(right, total, wrong values) of the predicted table cells against gold."""
    gold_cells, pred_cells = _cells(gold["tables"]), _cells(pred["tables"])
    right = sum(1 for k, v in gold_cells.items() if k in pred_cells and pred_cells[k] == v)
    wrong = [f"{k}: gold {v!r}, read {pred_cells[k]!r}" for k, v in gold_cells.items()
             if pred_cells.get(k) is not None and pred_cells[k] != v]
    return right, len(gold_cells), wrong


@pytest.mark.parametrize("report", SEEDS, ids=[r.id for r in SEEDS])
def test_a_report_without_line_breaks_reads_as_with_them(report):
    flat = report.text.replace("\n", "")
    pred = extract(flat)
    # (a bare heading mid-line, 主动公开政府信息情况 with no number, cannot be told from prose)
    numbered = {s["key"] for s in report.gold["sections"] if re.match(r"[一二三四五六七八九十\d]+[、.．]", s["heading"])}
    assert numbered <= {s["key"] for s in pred["sections"]}
    right, total, wrong = _compare(report.gold, pred)
    assert not wrong
    assert right >= 0.97 * total
    # every offset indexes the text as submitted
    for key, (start, end) in pred["provenance"].items():
        value = pred["tables"][key.split(".")[0]][key.split(".")[1]][key.split(".")[2]]
        if isinstance(value, int):
            assert flat[start:end].strip().lstrip("0") == str(value).lstrip("0") or value == 0
    for m in pred["metrics"]:
        assert flat[m["start"]:m["end"]] == m["text"]


@pytest.mark.parametrize("report", SEEDS, ids=[r.id for r in SEEDS])
def test_a_report_with_every_space_removed_is_read_never_wrongly(report):
    glued = re.sub(r"\s", "", report.text)
    pred = extract(glued)  # not refused as not_a_report
    right, total, wrong = _compare(report.gold, pred)
    assert not wrong
    assert right >= 0.9 * total


def test_a_report_with_line_breaks_is_not_changed():
    text = (ROOT / "corpus" / "001_422783bed8123fac.txt").read_text(encoding="utf-8")
    relaid = relayout(Document(text=text))
    assert relaid.doc.text == text and not relaid.inserted


def test_relayout_only_inserts_and_maps_offsets_back():
    line = ("本报告所列数据的统计期限自2023年1月1日起至2023年12月31日止。一、总体情况2023年，我局主动公开信息"
            "120条，坚持以公开为常态、不公开为例外，持续加强政务公开平台建设，及时回应社会关切，不断提升公开质效。二、主动公开政府信息情况第二十条第（一）项信息内容本年制发件数本年废止件数现行有效件数规章000"
            "行政规范性文件125第二十条第（五）项信息内容本年处理决定数量行政许可37三、收到和处理政府信息公开申请情况")
    relaid = relayout(Document(text=line))
    derived = relaid.doc.text
    assert derived.replace("\n", "").replace("\t", "") == line
    assert "\n一、总体情况\n" in derived and "\n二、主动公开政府信息情况\n" in derived
    assert "\n规章\t000\n" in derived and "\n行政许可\t37\n" in derived
    at = derived.index("37")
    assert line[relaid.to_source(at):relaid.to_source(at + 2)] == "37"


def _glued(text: str) -> list[GridCell]:
    return [GridCell(t, 10 + text.index(t), 10 + text.index(t) + len(t), "value") for t in text.split()]


def test_glued_digits_are_split_by_the_row_total():
    cuts = read_glued(_glued("640020470"), 7, row_sum_rule(6))
    assert [[c.text for c in cut] for cut in cuts] == [["64", "0", "0", "2", "0", "4", "70"]]
    assert cuts[0][0].start == 10 and cuts[0][-1].end == 19


def test_leading_zeros_settle_a_split_without_arithmetic():
    cuts = read_glued(_glued("00 0 0 0 00"), 7, row_sum_rule(6))
    assert [[c.text for c in cut] for cut in cuts] == [["0"] * 7]


def _table_2(row: str) -> dict:
    text = ("一、总体情况\n本机关依法公开政府信息。\n二、主动公开政府信息情况\n"
            "第二十条第（一）项\t信息内容\t本年制发件数\t本年废止件数\t现行有效件数\n规章\t0\t0\t0\n"
            f"行政规范性文件\t{row}\n三、收到和处理政府信息公开申请情况\n无。\n")
    return extract(text)


def test_an_ambiguous_glued_row_is_null_with_its_candidates():
    # 2135 is 2 1 35 or 2 13 5 (21 3 5 would leave fewer in force than issued less repealed)
    pred = _table_2("2135")
    row = pred["tables"]["active_disclosure"]["normative_documents"]
    assert row == {"issued": 2, "repealed": None, "in_force": None}
    flags = {f["cell"]: f for f in pred["cell_flags"]}
    flag = flags["active_disclosure.normative_documents.repealed"]
    assert flag["reason"] == "ambiguous_split" and flag["candidates"] == [1, 13]
    assert flags["active_disclosure.normative_documents.in_force"]["candidates"] == [5, 35]
    assert pred["tables"]["active_disclosure"]["regulations"] == {"issued": 0, "repealed": 0, "in_force": 0}


def test_documents_in_force_settle_a_glued_table_2_row():
    # 5066: 50 issued, 6 repealed, 6 in force cannot be (in force >= issued - repealed)
    row = _table_2("5066")["tables"]["active_disclosure"]["normative_documents"]
    assert row == {"issued": 5, "repealed": 0, "in_force": 66}


def test_column_identities_settle_a_row_its_own_total_cannot():
    # 1110 into 3 result cells … stands in for a row with several cuts; the column sum decides
    rows = {"granted": [[1, 1, 2], [11, 0, 11]], "partially_granted": [[1, 0, 1]],
            "results_total": [[2, 1, 3]], "new_received": [[2, 1, 3]], "carried_over": [[0, 0, 0]],
            "carried_forward": [[0, 0, 0]]}
    resolved = resolve_columns(rows, ["granted", "partially_granted"], 3)
    assert resolved["granted"] == [[1, 1, 2]]


def test_metrics_carry_their_confidence():
    text = (ROOT / "corpus" / "001_422783bed8123fac.txt").read_text(encoding="utf-8")
    metrics = extract(text)["metrics"]
    assert metrics and all(0.0 < m["confidence"] <= 1.0 for m in metrics)


needs_real = pytest.mark.skipif(not REAL.is_dir(), reason="../shared/real is not beside the checkout")


@needs_real
def test_no_real_report_is_refused_and_no_table_value_is_wrong():
    reports = load_corpus(REAL)
    assert len(reports) >= 17
    right = total = 0
    wrong: list[str] = []
    for report in reports:
        pred = extract(report.text)  # raises on a refusal
        r, t, w = _compare(report.gold, pred)
        right, total = right + r, total + t
        wrong += [f"{report.id} {x}" for x in w]
    assert len(wrong) <= 0.005 * total, wrong
    assert right >= 0.9 * total


def test_shape_variants_keep_their_gold_exact():
    from training.augment import shapes
    from training.corpus import validate

    report = next(r for r in load_corpus(ROOT / "corpus") if r.id.startswith("001_"))
    flat, glued = shapes.variants(report)
    assert "\n" not in flat.text and not re.search(r"\s", glued.text)
    for variant in (flat, glued):
        assert validate(variant.gold, variant.text, where=variant.id) == []
        assert variant.gold["tables"] == report.gold["tables"]
        for m in variant.gold["metrics"]:
            assert variant.text[m["start"]:m["end"]] == m["text"]


def test_rows_printed_out_of_the_template_order_are_still_read():
    text = ("一、总体情况\n本机关依法公开政府信息。\n二、主动公开政府信息情况\n"
            "第二十条第（五）项\t信息内容\t本年处理决定数量\n行政许可\t97\n"
            "第二十条第（六）项\t信息内容\t本年处理决定数量\n行政处罚\t3\n行政强制\t0\n"
            "第二十条第（八）项\t信息内容\t本年收费金额（单位：万元）\n行政事业性收费\t0\n"
            "第二十条第（一）项\t信息内容\t本年制发件数\t本年废止件数\t现行有效件数\n"
            "规章\t0\t0\t0\n行政规范性文件\t13\t0\t55\n"
            "三、收到和处理政府信息公开申请情况\n无。\n")
    tables = extract(text)["tables"]["active_disclosure"]
    assert tables["licensing"] == {"decisions": 97}
    assert tables["normative_documents"] == {"issued": 13, "repealed": 0, "in_force": 55}


def test_a_glued_row_with_blank_cells_is_unknown_not_cut():
    # 258, 12, three blanks, 1, 1 and a blank total lose their whitespace: 2581211
    cuts = read_glued(_glued("2581211"), 7, row_sum_rule(6))
    assert cuts == []


def test_the_model_card_names_every_corpus_and_what_lies_outside_the_repository():
    from training.train import _training_data_lines

    lines = _training_data_lines({"reports": 3, "train": 3, "test": 0, "with_tables": 2, "metric_mentions": 9,
                                  "sources": [{"dir": "corpus", "reports": 2, "in_repository": True},
                                              {"dir": "../shared/real", "reports": 1, "in_repository": False}]})
    assert any("`corpus`: 2 reports, in this repository" in line for line in lines)
    assert any("`../shared/real`: 1 reports, third-party" in line and "never copied" in line for line in lines)


FIXTURES = ROOT / "tests" / "fixtures"
FIXTURE_IDS = sorted(p.stem for p in FIXTURES.glob("*.pdf"))


def _fixture_gold(name: str) -> dict:
    return next(r.gold for r in load_corpus(ROOT / "corpus") if r.id == name)


@pytest.mark.parametrize("layout", [False, True], ids=["plain", "layout"])
@pytest.mark.parametrize("name", FIXTURE_IDS)
def test_another_converters_pdf_text_is_read_never_wrongly(name, layout):
    """The text a user's own PDF tool gives (pdfplumber's extract_text, plain or
    layout-preserving): header words split over lines, page footers, wrapped labels."""
    import pdfplumber

    with pdfplumber.open(FIXTURES / f"{name}.pdf") as pdf:
        text = "\n".join(page.extract_text(layout=layout) or "" for page in pdf.pages)
    right, total, wrong = _compare(_fixture_gold(name), extract(text))
    assert not wrong
    assert right >= 0.95 * total


@pytest.mark.parametrize("name", FIXTURE_IDS)
def test_a_crawlers_page_text_is_read(name):
    """An HTML page's text as a crawler's get_text() gives it: one line per block,
    table cells glued (规章000, 一、本年新收…数量2000002)."""
    import lxml.html

    text = lxml.html.fromstring((FIXTURES / f"{name}.html").read_bytes()).text_content()
    right, total, wrong = _compare(_fixture_gold(name), extract(text))
    assert not wrong
    assert right >= 0.95 * total


def _glued_table_3(rows: dict[str, str]) -> str:
    labels = {"new_received": "一、本年新收政府信息公开申请数量", "carried_over": "二、上年结转政府信息公开申请数量",
              "granted": "三、本年度办理结果（一）予以公开",
              "partially_granted": "（二）部分公开（区分处理的，只计这一情形，不计其他情形）",
              "results_total": "（七）总计", "carried_forward": "四、结转下年度继续办理"}
    body = "".join(labels[k] + " " + v for k, v in rows.items())
    return ("一、总体情况本机关依法做好政府信息公开工作，全年运行平稳，各项工作有序推进，公开质效持续提升。"
            "三、收到和处理政府信息公开申请情况申请人情况自然人法人或其他组织总计商业企业科研机构社会公益组织法律服务机构其他"
            + body + "四、政府信息公开行政复议、行政诉讼情况本年度无行政复议、行政诉讼。")


def test_a_glued_row_that_does_not_add_up_is_read_as_printed_and_flagged():
    """Every row prints all its cells (no row is too short for them), so 8100008 can
    only be 8 1 0 0 0 0 8: read as printed, and the audit says it does not add up."""
    text = _glued_table_3({"new_received": "9000009", "carried_over": "0000000", "granted": "1000001",
                           "partially_granted": "8100008", "results_total": "9100009",
                           "carried_forward": "0000000"})
    pred = extract(text)
    assert pred["tables"]["applications"]["partially_granted"] == {
        "natural_person": 8, "commercial": 1, "research": 0, "social_welfare": 0, "legal_service": 0,
        "other_org": 0, "total": 8}
    failed = {(c["rule"], c["scope"]) for c in pred["checks"] if c["ok"] is False}
    assert ("applications.row_total", "partially_granted") in failed


def test_where_a_glued_table_shows_blank_cells_no_forced_cut_is_taken():
    # 26, five blanks, 26 prints as 2626: the table leaves cells blank, so 8100008 may
    # be a row with blanks too, and stays unknown
    text = _glued_table_3({"new_received": "2626", "carried_over": "0000000", "granted": "2626",
                           "partially_granted": "8100008", "results_total": "2626",
                           "carried_forward": "0000000"})
    pred = extract(text)
    assert set(pred["tables"]["applications"]["partially_granted"].values()) == {None}
    assert pred["tables"]["applications"]["new_received"]["total"] is None


def test_a_text_that_names_the_report_is_read_not_refused():
    text = ("本报告包括总体情况、主动公开政府信息情况、收到和处理政府信息公开申请情况等部分。"
            "全年主动公开政府信息120条，收到政府信息公开申请5件。")
    pred = extract(text)
    assert pred["warnings"] and "names 3 of the report's section titles" in pred["warnings"][-1]
    assert {(m["type"], m["value"]) for m in pred["metrics"]} >= {("applications_received", 5)}


def test_a_text_without_any_evidence_is_still_refused():
    from service.types import ExtractionError

    with pytest.raises(ExtractionError) as err:
        extract("床前明月光，疑是地上霜。举头望明月，低头思故乡。")
    assert err.value.code == "not_a_report"


def test_a_merged_label_printed_one_character_per_line_beside_its_rows():
    """A converter that reads the merged 本年度办理结果 cell as one character per line
    puts each character in front of the row it stands beside."""
    import pdfplumber

    name = "002_b66439113936b5c6"
    with pdfplumber.open(FIXTURES / f"{name}.pdf") as pdf:
        text = "\n".join(page.extract_text() or "" for page in pdf.pages)
    start, end = text.index("（一）予以公开"), text.index("（七）总计")
    lines, chars = text[start:end].split("\n"), iter("本年度办理结果")
    vertical = "\n".join(next(chars, "") + " " + line if line.strip() else line for line in lines)
    right, total, wrong = _compare(_fixture_gold(name), extract(text[:start] + vertical + text[end:]))
    assert not wrong and right == total


def test_a_glued_table_with_the_same_cells_blank_in_every_row_keeps_what_is_certain():
    # 26, five blanks, 26 in every row with figures: the total is certain, which single
    # applicant column is printed is not
    text = _glued_table_3({"new_received": "2626", "carried_over": "00", "granted": "2626",
                           "partially_granted": "00", "results_total": "2626", "carried_forward": "00"})
    pred = extract(text)
    row = pred["tables"]["applications"]["new_received"]
    assert row["total"] == 26 and row["natural_person"] is None
    flag = next(f for f in pred["cell_flags"] if f["cell"] == "applications.new_received.natural_person")
    assert flag["reason"] == "ambiguous_split" and flag["candidates"] == [26]


def test_numbered_rows_printed_without_figures_are_blank_rows():
    """…申请3.其他（七）总计 4 0 …: rows 2 and 3 print no figure; they are read as blank,
    and the figures stay with （七）总计."""
    text = _glued_table_3({"new_received": "4000004", "carried_over": "0000000", "granted": "4000004",
                           "partially_granted": "0000000", "results_total": "4000004",
                           "carried_forward": "0000000"})
    text = text.replace("（七）总计", "（六）其他处理1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请 0000000"
                        "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请3.其他（七）总计")
    tables = extract(text)["tables"]["applications"]
    assert set(tables["other_no_fee"].values()) == {None} and set(tables["other_misc"].values()) == {None}
    assert tables["results_total"]["total"] == 4 and "other_handling" not in tables


def test_table_4_as_one_small_table_per_group():
    groups = (("行政复议", "27 | 10 | 9 | 15 | 61"), ("行政诉讼（未经复议直接起诉）", "3 | 0 | 0 | 0 | 3"),
              ("行政诉讼（复议后起诉）", "8 | 0 | 1 | 1 | 10"))
    text = "一、总体情况\n依法公开。\n四、政府信息公开行政复议、行政诉讼情况\n\n" + "".join(
        f"### {title}\n| 结果维持 | 结果纠正 | 其他结果 | 尚未审结 | 总计 |\n|---|---|---|---|---|\n| {row} |\n\n"
        for title, row in groups) + "五、存在的主要问题及改进情况\n无。\n"
    table = extract(text)["tables"]["review_litigation"]
    assert table["review"] == {"maintained": 27, "corrected": 10, "other": 9, "pending": 15, "total": 61}
    assert table["litigation_after_review"] == {"maintained": 8, "corrected": 0, "other": 1, "pending": 1, "total": 10}


@pytest.mark.parametrize("name", FIXTURE_IDS)
def test_a_page_text_with_one_cell_per_line_is_read(name):
    """BeautifulSoup's get_text("\\n", strip=True) of an HTML table: every cell on a line
    of its own, no delimiter, blank cells gone."""
    import lxml.html

    page = lxml.html.fromstring((FIXTURES / f"{name}.html").read_bytes())
    text = "\n".join(t.strip() for t in page.itertext() if t.strip())
    right, total, wrong = _compare(_fixture_gold(name), extract(text))
    assert not wrong
    assert right >= 0.95 * total


def test_a_row_with_fewer_figures_than_columns_is_not_spread_left_to_right():
    # 0 and 0 with five blank cells dropped: which columns they are is unknown
    text = _glued_table_3({"new_received": "0 0", "carried_over": "0000000", "granted": "0000000",
                           "partially_granted": "0000000", "results_total": "0000000",
                           "carried_forward": "0000000"})
    row = extract(text)["tables"]["applications"]["new_received"]
    assert row["commercial"] is None and row["research"] is None


def test_a_row_keeps_its_trailing_blank_cells_when_the_next_line_joins_it():
    """Table 4's figures with the blank cells of its last group (tabs) and the next
    heading on the same line: the row ends after the tabs, so it keeps its 15 cells."""
    header = ("三、本机关全年依法公开政府信息，各项工作平稳有序，公开质效持续提升，群众满意度较高。"
              "四、政府信息公开行政复议、行政诉讼情况行政复议\t行政诉讼\t结果维持\t结果纠正\t其他结果\t尚未审结\t总计\t"
              "未经复议直接起诉\t复议后起诉\t结果维持\t结果纠正\t其他结果\t尚未审结\t总计\t结果维持\t结果纠正\t其他结果\t"
              "尚未审结\t总计")
    text = header + "5\t\t\t2\t7\t8\t\t\t1\t9\t\t\t\t\t五、政府信息公开工作存在的主要问题及改进情况（一）主要问题：无。"
    derived = relayout(Document(text=text)).doc.text
    assert "9\t\t\t\t\t\n五、" in derived
    review = extract(text)["tables"]["review_litigation"]
    assert review["review"] == {"maintained": 5, "corrected": None, "other": None, "pending": 2, "total": 7}
    assert review["litigation_after_review"]["total"] is None


def test_a_glued_heading_in_sequence_with_its_own_wording_starts_its_section():
    """All whitespace lost: 六、 after 五、 with a title of the report's own wording runs
    into its text up to the sentence's end; the title is the part most like the
    section's, and a table row's 二、 after a figure is never a heading."""
    text = ("一、总体情况本机关依法公开政府信息，全年平稳有序。二、主动公开政府信息情况本年新收政府信息公开申请数量"
            "1022000104二、上年结转政府信息公开申请数量0000000。五、政府信息公开存在的问题及改进措施"
            "公开工作仍需加强，专栏建设有待完善，解读形式需要丰富。六、需要说明的其他事项与附表本年度无其他事项需说明。")
    derived = relayout(Document(text=text)).doc.text
    assert "\n六、需要说明的其他事项" in derived
    assert "\n二、上年结转" not in derived
