"""Training prose that carries the confusions real reports set a metric reader.

Real reports state many figures that look like metrics and are not: a sub-category
of a stated total (其中原创文章294篇, 同意公开答复9件), counts of things that are not
items published (办事指南236页, 关注人数, 政务服务事项, 《政府公报》12期), applications
carried forward (not completed), an outcome negated (未被纠错) beside a real case count,
one event's or one column's coverage.  The hand-written prose corpus had few of them,
and the model took them for totals; the audit then raised false alarms.

Each document below is written in a small markup: ``[[type/channel:evidence]]`` marks
a metric (``[[type:evidence]]`` without a channel), and the evidence holds its figure
and unit; everything unmarked is, by the spec's conventions, not a metric.
``python -m training.confusions`` writes them to ``corpus/prose/`` as annotated
reports (``cNN_*.txt`` + ``.gold.json``), spans computed, not typed.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from service.numbers import chinese_to_int, fold

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "corpus" / "prose"

_MARK = re.compile(r"\[\[([a-z_]+)(?:/([a-z_]+))?:([^\]]+)\]\]")
_FIGURE = re.compile(r"(\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百千万]+)\s*(余|多)?\s*(万元|元|条|篇|件|次|期|个|场|项|部|起)")

DOCUMENTS: dict[str, str] = {
    "c01_district_science_bureau": """一、总体情况
2024年，区科技局通过部门网站当年[[published_items/portal:发布政府信息 418 条]]，其中[[normative_documents_issued:行政规范性文件 6 件]]，规划计划文件 2 件，人事任免信息 11 条。
“科创区”微信公众号[[published_items/wechat:共编发文章 1327 篇]]，其中原创文章 215 篇，公众号关注人数达 86532 人，累计阅读量 54.6 万次。
全年[[applications_received:收到政府信息公开申请 27 件]]，[[applications_carried_over:上年结转申请 3 件]]。办结的申请中同意公开答复 8 件，部分公开答复 2 件，不予公开答复 1 件，无法提供的 9 件，其他处理 6 件，转下一年度办理的有 4 件。
区科技局发生涉及政府信息公开工作的[[review_cases:行政复议 1 件]]，该案未被复议机关纠错；未发生行政诉讼。
""",
    "c02_county_civil_affairs": """一、总体情况
（一）主动公开
全年[[published_items/all:主动公开政府信息 962 条]]，其中社会救助类信息 310 条，养老服务类信息 126 条，社会组织管理类信息 88 条。
在“民政之声”专栏集中发布低保、特困等救助信息 214 条，更新政务服务事项办事指南 68 项，共 236 页。
（二）依申请公开
全年[[applications_received:共受理政府信息公开申请 19 件]]，其中予以公开 11 件，部分公开 3 件，无法提供 5 件，全部按期[[applications_completed:办结 19 件]]。
（三）政策解读
围绕社会救助新政[[policy_interpretations:发布政策解读 14 篇]]，其中图文解读 9 篇、视频解读 5 篇。
""",
    "c03_city_housing_bureau": """一、总体情况
2023年，市住房和城乡建设局在门户网站[[published_items/portal:公开各类信息 1536 条]]，政务微博[[published_items/weibo:发布信息 702 条]]，抖音号[[published_items/short_video:发布短视频 96 条]]。
其中，围绕保障性住房专题发布信息 145 条，城市更新专栏更新信息 63 条。
12345 热线转办工单 3862 件，均已办结；受理群众来电咨询 1240 件。
编印《住房城乡建设公报》12 期，汇编现行有效规范性文件 58 件。
[[applications_received:全年新收政府信息公开申请 86 件]]，[[applications_carried_over:上年度结转 7 件]]，[[applications_completed:已答复 89 件]]，结转下年度继续办理 4 件。
""",
    "c04_district_market_regulation": """一、总体情况
（一）主动公开情况
区市场监管局[[published_items/all:全年主动公开政府信息 2418 条]]。其中，[[penalty_decisions:公开行政处罚决定 376 件]]，[[licensing_decisions:行政许可信息 1520 条]]，抽检结果信息 212 条。
“市场监管”[[published_items/wechat:微信公众号累计推送 618 条]]信息，其中原创 402 条、转载 216 条；粉丝数 4.3 万。
（二）依申请公开情况
[[applications_received:收到政府信息公开申请 41 件]]（含[[applications_carried_over:上年结转 5 件]]），答复中予以公开 17 件，区分处理后公开 6 件，不予公开 3 件，无法提供 12 件，不予处理 3 件。
（三）行政复议和诉讼
因政府信息公开被申请[[review_cases:行政复议 2 件]]，均维持原答复，无被纠错或败诉情况；被提起[[litigation_cases:行政诉讼 1 件]]，尚未审结。
""",
    "c05_county_transport_bureau": """一、总体情况
2022年，县交通运输局坚持以公开为常态、不公开为例外，[[published_items/portal:在政府网站发布信息 324 条]]，[[published_items/wechat:“交通之声”公众号发布 187 篇]]，[[published_items/other:通过微信、微博共发布政务信息 415 条]]。
在春运专题中发布出行提示 38 条；“国庆假期”专栏更新路况信息 21 条。
全年无因政府信息公开引起的行政复议、行政诉讼案件。
[[applications_received:共收到依申请公开 6 件]]，[[applications_completed:全部答复 6 件]]。
政务服务网上可办事项 126 项，网办率 98%。
""",
    "c06_city_health_commission": """一、总体情况
市卫生健康委[[published_items/all:全年共主动公开政府信息 3105 条]]。其中，[[published_items/portal:门户网站发布 1864 条]]，[[published_items/wechat:政务微信发布 1021 条]]，[[published_items/other:其他渠道发布 220 条]]。
[[press_conferences:召开新闻发布会 9 场]]，其中疫情防控专场发布会 4 场；[[policy_interpretations:发布政策解读材料 31 篇]]。
全年[[applications_received:收到政府信息公开申请 152 件]]，同比增加 18 件；其中自然人申请 139 件，法人或其他组织申请 13 件。
办理结果中，予以公开 64 件、部分公开 21 件、不予公开 9 件、无法提供 43 件、不予处理 8 件、其他处理 4 件，[[applications_completed:办结 149 件]]，另有 3 件结转至下一年度。
""",
    "c07_township_government": """一、总体情况
镇政府依托政务公开栏、村务公开栏张贴公示 216 期，[[published_items/portal:在区政府网站镇级专栏公开信息 188 条]]。
其中财政资金类信息 42 条，重大项目类信息 17 条，惠农补贴类信息 56 条。
全年未收到政府信息公开申请，未发生行政复议和行政诉讼。
发放政务公开宣传册 1200 份，开展“政府开放日”活动 2 场，接待群众 150 人次。
""",
    "c08_district_education_bureau": """一、总体情况
区教育局官网[[published_items/portal:发布工作动态、通知公告等信息 1046 条]]，[[published_items/wechat:“教育发布”公众号推送 652 篇]]，视频号[[published_items/short_video:发布短视频 88 条]]，[[published_items/media:在《区报》刊发教育新闻 36 篇]]。
招生入学专题页面访问量达 38.6 万人次，在线答复家长咨询 2146 条。
全年[[applications_received:受理政府信息公开申请 58 件]]，其中 22 件予以公开、9 件部分公开、27 件因本机关不掌握相关信息告知无法提供；[[applications_completed:全部办结 58 件]]。
""",
    "c09_county_natural_resources": """一、总体情况
（一）主动公开
县自然资源局在政府门户网站[[published_items/portal:主动公开信息 507 条]]。按类别分，土地征收类信息 146 条，规划公示类信息 83 条，矿产资源类信息 21 条，其他类信息 257 条。
（二）依申请公开
[[applications_carried_over:上年结转政府信息公开申请 4 件]]，[[applications_received:本年新收 33 件]]。本年度[[applications_completed:办理完毕 35 件]]，结转下年度继续办理 2 件。
（三）复议诉讼
本年度涉及政府信息公开的[[review_cases:行政复议案件 3 件]]，其中结果维持 2 件、尚未审结 1 件，未发生被纠正情况；[[litigation_cases:行政诉讼 2 件]]，均未败诉。
""",
    "c10_city_ecology_bureau": """一、总体情况
市生态环境局[[published_items/all:全年共发布信息 2764 条]]。
其中[[published_items/portal:门户网站 1532 条]]、[[published_items/wechat:微信公众号 901 条]]、[[published_items/weibo:微博 331 条]]。环境质量月报 12 期、重点排污单位名录 1 份。
“环保世界日”宣传活动期间，微博集中推送 56 条，话题阅读量 210 万次。
现行有效的行政规范性文件 42 件，本年度[[normative_documents_issued:制发行政规范性文件 5 件]]。
全年[[applications_received:收到政府信息公开申请 74 件]]，答复中予以公开 30 件，部分公开 12 件。
""",
    "c11_district_human_resources": """一、总体情况
（一）主动公开情况
区人社局[[published_items/gov_platform:在政府信息公开专栏公开信息 612 条]]，其中就业创业类 214 条、社会保障类 263 条、人事考试类 135 条。
“人社在线”政务服务平台上线服务事项 186 项，全年网上办件 5.2 万件。
（二）依申请公开情况
[[applications_received:新收政府信息公开申请 12 件]]，[[applications_carried_over:上年结转 1 件]]；同意公开答复 4 件，无法提供 6 件，不予处理 2 件，结转下年度 1 件。
（三）复议诉讼情况
未发生因政府信息公开引发的行政复议；[[litigation_cases:行政诉讼 1 件]]，法院判决维持，未被确认违法。
""",
    "c12_county_agriculture_bureau": """一、总体情况
县农业农村局[[published_items/all:全年公开政府信息 836 条]]，其中惠农补贴公示 324 条。
“乡村振兴”专栏在丰收节期间集中发布信息 47 条，单篇最高阅读 3.1 万次。
[[published_items/wechat:微信公众号发布 298 篇]]，其中转载上级部门信息 116 篇。
编发《农业信息简报》24 期，印发技术指导手册 3000 册。
[[applications_received:全年收到依申请公开 9 件]]，其中予以公开 5 件；[[applications_completed:已全部答复 9 件]]。
""",
    "c13_district_sports_bureau": """一、总体情况
2023年，区文体旅局通过区政府门户网站[[published_items/portal:主动公开政府信息 96 条]]，依申请公开信息数 5 条。在主动公开的信息中，规划计划类信息 8 条，其他类信息 88 条。
“文旅之窗”微信公众号累计推送 312 余篇，其中围绕马拉松赛事推送 27 篇。
全年[[applications_received:收到政府信息公开申请 5 件]]，[[applications_completed:均已按期答复 5 件]]。
""",
    "c14_county_public_security": """一、总体情况
（一）主动公开
县公安局[[published_items/all:全年主动公开信息数 243 条]]，其中机构职能类信息 9 条，[[licensing_decisions:行政许可类信息 31 条]]，[[penalty_decisions:行政处罚类信息 58 条]]，警情通报类信息 12 条；其他应主动公开的政府信息 133 条。
本年度[[published_items/portal:上网发布的 243 条政府信息]]，均经保密审查后发布。
（二）依申请公开
我局收到群众通过信函、网络平台提交的各类[[applications_received:政府信息公开申请共计 11 件]]，申请内容涉及户籍管理信息 4 件、交通管理信息 7 件。
""",
    "c15_city_market_supervision": """一、总体情况
市市场监管局紧扣群众关切做好舆情回应，通过官方微信公众号发布 23 篇文章，回应了预付卡退费难、校园周边食品安全等热点问题。
围绕食品安全，[[published_items/wechat:“市场监管”微信公众号全年发布信息 1268 篇]]，其中“抽检速递”系列文章 365 篇，累计公布抽检批次 1.8 万批次。
专题新闻发布会期间，微博集中发布 19 条。
""",
    "c16_county_government_office": """一、总体情况
全县全年[[applications_received:共受理政府信息公开申请 326 件]]，其中自然人申请 318 件，法人或其他组织申请 8 件；[[applications_completed:共办理 309 件]]，结转下一年 17 件。依法做好相关行政复议、行政诉讼案件的应诉工作，共办理相关案件 41 件。
全县行政机关在办理本年度信息公开申请中[[fee_collected:收取信息处理费共计 260 元]]，其中县住建局 1 件，收取 260 元。
""",
    "c17_city_science_bureau": """一、总体情况
“科技之城”[[published_items/portal:网站全年累计发布信息 1876 条]]，其中动态类信息发布 1412 条，政务信息发布 402 条，[[policy_interpretations:解读类信息发布 48 条]]，回应关切类信息 14 条。
[[published_items/wechat:微信公众号共编发文章 953 篇]]，其中原创文章 211 篇。
今年累计推送集成式政策 87 条，报送惠企政策 52 条。
""",
    "c18_district_housing_bureau": """一、总体情况
（一）主动公开
区住建局通过区门户网站、《区政府公报》等平台主动公开规章 2 件，[[normative_documents_issued:行政规范性文件 9 件]]，其他文件 74 件。
全年[[published_items/all:主动公开政府信息 412 条]]，[[published_items/wechat:公众号发布 205 篇]]。
（二）依申请公开
[[applications_carried_over:上年结转 2 件]]，[[applications_received:本年收到申请 19 件]]，[[applications_completed:办理完毕 20 件]]，转入下年度办理 1 件。
""",
    "c19_township_office": """一、总体情况
街道办事处[[published_items/portal:在区政府网站街道专栏公开信息 152 条]]，依申请公开政府信息 3 条。
依托“幸福街道”微信公众号发布 9 篇文章回应居民关于加装电梯的关切；[[published_items/wechat:全年公众号推送信息 367 条]]。
[[applications_received:收到政府信息公开申请 3 件]]，[[applications_completed:已办结 3 件]]；未发生行政复议和行政诉讼。
""",
    "c20_city_transport_commission": """一、总体情况
市交通委[[published_items/portal:在门户网站发布政府信息 1590 条]]，其中政策文件类 86 条，重点工作类 342 条，其他类信息 1162 条。
[[published_items/weibo:“交通发布”政务微博发布 2410 条]]，春运期间发布出行提示 130 条。
[[published_items/portal:在发布的 1590 条政府信息]]中，[[normative_documents_issued:行政规范性文件 7 件]]。
本年度[[fee_collected:收取信息处理费 0 元]]。
""",
    "c21_district_assets_bureau": """一、总体情况
2022年，区国资局通过区政府[[published_items/portal:门户网站主动公开政府信息 58 条]]，依申请公开信息数 4 条。在[[published_items/portal:主动公开的 58 条政府信息]]中，规范性文件类信息 3 条，其他类信息 55 条。
“国资在线”[[published_items/wechat:微信公众号累计推送 210 余条信息]]，[[published_items/media:“滨海新闻网”国资动态栏目更新信息 27 条]]，点击量 5 万余次。9 篇信息稿被市国资委网站采用刊登。
""",
    "c22_county_health_bureau": """一、总体情况
全年[[published_items/all:主动公开政府信息 733 条]]，其中[[published_items/portal:县政府网站发布 512 条]]，[[published_items/media:“县融媒网”发布 96 条]]，[[published_items/wechat:“健康之声”公众号推送 125 篇]]。
公众号还推出《健康天天说》系列文章 240 篇，累计阅读 31 万次；14 篇稿件被省卫健委网站转载。
""",
    "c23_city_science_commission": """一、总体情况
2023 年市教委有 [[review_cases:2 件涉及政府信息公开工作的行政复议]]，均未被复议机关纠错；涉及的[[litigation_cases:行政诉讼数为 0 件]]。
全年共收到政府信息公开申请 412 件，[[applications_completed:答复政府信息公开申请 398 件]]，其余结转下一年度办理。
运用抖音号报道教育新闻，[[published_items/short_video:发布短视频 67 条]]，播放量超 120 万次。
围绕招生入学完成政府常务会议同步配套解读 3 次；累计[[policy_interpretations:发布解读类信息 25 条]]。
""",
}


def parse_value(evidence: str) -> tuple[int | float, str]:
    """The figure and unit an evidence span states."""
    m = _FIGURE.search(fold(evidence))
    if m is None:
        raise ValueError(f"no figure with a unit in {evidence!r}")
    number = m.group(1)
    if number[0].isdigit():
        value: int | float = float(number) if "." in number else int(number)
    else:
        value = chinese_to_int(number)
        if value is None:
            raise ValueError(f"unreadable numeral in {evidence!r}")
    return value, m.group(3)


def compile_document(markup: str) -> tuple[str, list[dict]]:
    """(text, gold metrics) of one marked-up document."""
    pieces: list[str] = []
    metrics: list[dict] = []
    pos = length = 0
    for m in _MARK.finditer(markup):
        pieces.append(markup[pos:m.start()])
        length += m.start() - pos
        mtype, channel, evidence = m.groups()
        value, unit = parse_value(evidence)
        metric = {"type": mtype, "value": value, "unit": unit, "start": length,
                  "end": length + len(evidence), "text": evidence}
        if mtype == "published_items":
            metric["channel"] = channel or "all"
        metrics.append(metric)
        pieces.append(evidence)
        length += len(evidence)
        pos = m.end()
    pieces.append(markup[pos:])
    return "".join(pieces), metrics


def annotation(markup: str) -> tuple[str, dict]:
    text, metrics = compile_document(markup)
    gold = {"layout": "2021", "split": "train",
            "sections": [{"key": "preamble", "heading": "", "start": 0, "end": 0},
                         {"key": "overview", "heading": "一、总体情况", "start": 0, "end": len(text)}],
            "metrics": metrics,
            "notes": ["written for training: figures that look like metrics and are not "
                      "(sub-categories, non-items, carried forward, negated outcomes, one event); "
                      "source: training/confusions.py"]}
    return text, gold


def write(out: Path = OUT) -> list[Path]:
    written = []
    for name, markup in DOCUMENTS.items():
        text, gold = annotation(markup)
        (out / f"{name}.txt").write_text(text, encoding="utf-8")
        path = out / f"{name}.gold.json"
        path.write_text(json.dumps(gold, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    import argparse

    argparse.ArgumentParser(description="Write the confusion prose of training/confusions.py "
                                        "to corpus/prose/ as annotated reports.").parse_args(argv)
    paths = write()
    print(f"wrote {len(paths)} annotated documents to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
