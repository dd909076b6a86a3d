"""Which report is this: agency, reporting year, title, publication date (service.identity)."""

from __future__ import annotations

import pytest

from service.identity import agency_key, identify
from service.pipeline import read_report
from service.types import Document

from .conftest import CORPUS


def _info(text: str):
    info = identify(Document(text=text))
    for name, span in info.spans.items():  # every field was read where its span says
        assert text[span.start:span.end], name
    return info


@pytest.mark.parametrize("head, agency, year", [
    ("淮安市洪泽区人民政府2023年政府信息公开工作年度报告\n根据条例……", "淮安市洪泽区人民政府", 2023),
    ("临淄区卫生健康局2024年政府信息公开工作\n年度报告\n\n本年度报告……", "临淄区卫生健康局", 2024),
    ("北京市朝阳区卫生健康委员会\n\n2024年政府信息公开工作年度报告\n依据……", "北京市朝阳区卫生健康委员会", 2024),
    ("正文\n2024 年上海市科委政府信息公开工作\n年度报告\n根据……", "上海市科委", 2024),
    ("# 沐阳县人民政府 2025 年 政府信息公开工作年度报告\n\n", "沐阳县人民政府", 2025),
    ("标题: 平潭综合实验区财政金融局2023年度政府信息公开工作年度报告\n发布时间: 2024-01-31 08:28\n",
     "平潭综合实验区财政金融局", 2023),
])
def test_agency_and_year_from_the_title_in_its_shapes(head, agency, year):
    info = _info(head + "一、总体情况\n全年依法公开政府信息。\n")
    assert (info.agency, info.year) == (agency, year)
    assert info.title.endswith("报告")


def test_the_year_is_the_reporting_year_not_the_publication_date():
    text = ("某某区司法局2023年政府信息公开工作年度报告\n发布日期：2024-01-26\n一、总体情况\n……\n"
            "某某区司法局\n2024年1月26日\n")
    info = _info(text)
    assert info.year == 2023 and info.published == "2024-01-26"


def test_the_statistical_period_gives_the_year_when_the_title_does_not():
    info = _info("政府信息公开工作年度报告\n本报告所列数据的统计期限自2022年1月1日起至2022年12月31日止。\n")
    assert info.year == 2022 and info.agency is None


def test_nothing_stated_is_none_never_guessed():
    info = _info("一、总体情况\n本机关全年依法公开政府信息 12 条。\n")
    assert info.model_dump(exclude={"spans"}) == {"agency": None, "agency_key": None, "year": None,
                                                  "title": None, "published": None}


def test_agency_key_groups_an_agencys_spellings():
    assert agency_key("淮安市洪泽区人民政府") == agency_key("洪泽区人民政府") == "洪泽区人民政府"
    assert agency_key("北京市朝阳区卫生健康委员会") == "朝阳区卫生健康委员会"
    assert agency_key("江苏省淮安市洪泽区人民政府") == "洪泽区人民政府"
    assert agency_key("上海市人民政府办公厅") == "上海市人民政府办公厅"  # no lower unit after the city
    assert agency_key("沭阳县 发展和改革局") == "沭阳县发展和改革局"


def test_every_extraction_says_which_report_it_is():
    text = (CORPUS / "001_422783bed8123fac.txt").read_text(encoding="utf-8")
    report = read_report(text).report
    assert (report.agency, report.agency_key, report.year, report.published) == (
        "临淄区卫生健康局", "临淄区卫生健康局", 2024, "2025-01-20")
    assert text[report.spans["published"].start:report.spans["published"].end] == "2025年1月20日"


def test_the_files_own_title_and_date_when_the_text_has_none():
    from service import ingest

    page = ("<html><head><title>淮安市洪泽区人民政府2023年政府信息公开工作年度报告 - 门户网站</title>"
            "<meta name='PubDate' content='2024-01-22 09:30'></head><body><div class='content'>"
            "<p>一、总体情况</p><p>本机关全年依法公开政府信息 12 条。</p></div></body></html>").encode()
    report = identify(ingest.read(page))
    assert (report.agency, report.year, report.published) == ("淮安市洪泽区人民政府", 2023, "2024-01-22")
    assert "agency" not in report.spans  # (read from the file's properties, not from its text)
