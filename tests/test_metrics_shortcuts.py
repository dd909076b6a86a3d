"""The shortcuts service/metrics.py takes for speed give what the plain way gives:
the scorer against scikit-learn, keyword and prefix look-ups against a scan of every word,
the "no numeral, no number" test against the number reader, and prose lines read the same
whatever their line ends and indentation."""

from __future__ import annotations

import pytest

from service import metrics, modelstore
from service.metrics import (
    KEYWORDS,
    LinearScorer,
    MetricModel,
    featurise,
    find_candidates,
    keyword_hits,
    prose_blocks,
)
from service.numbers import count_numbers, numbers_in
from service.types import Document

from .conftest import ROOT


@pytest.fixture(scope="module")
def model() -> MetricModel:
    return MetricModel.load(ROOT / "models")


@pytest.fixture(scope="module")
def corpus_candidates(corpus_reports):
    cands = [c for r in corpus_reports for c in find_candidates(Document(text=r.text))]
    featurise(cands)
    return cands


def test_the_scorer_labels_as_each_scikit_learn_pipeline_does(model, corpus_candidates):
    stored = modelstore.load(ROOT / "models" / metrics.MODEL_FILE)
    pipelines = [modelstore.estimator_from_dict(stored[k]) for k in ("type_model", "channel_model")]
    rows = [c.features for c in corpus_candidates]
    expected = [[str(t) for t in p.predict(rows)] for p in pipelines]
    assert LinearScorer([model.type_model, model.channel_model]).predict(rows) == expected
    # and the metric model, whose channel is that of published items only
    labels = model.predict(corpus_candidates)
    assert [t for t, _ in labels] == expected[0]
    assert [ch for _, ch in labels] == [ch if t == "published_items" else None for t, ch in zip(*expected)]


def test_a_type_model_alone_names_no_channel(model, corpus_candidates):
    alone = MetricModel(type_model=model.type_model)
    labels = alone.predict(corpus_candidates)
    assert [t for t, _ in labels] == [t for t, _ in model.predict(corpus_candidates)]
    assert all(ch is None for _, ch in labels)


def _hits_by_scanning(text: str) -> list[tuple[int, int, int, str]]:
    """At every position, the longest word of every group that starts there."""
    hits = []
    for number, (group, words) in enumerate(KEYWORDS.items()):
        for p in range(len(text)):
            found = [w for w in words if text.startswith(w, p)]
            if found:
                hits.append((number, p, p + len(max(found, key=len)), group))
    return hits


def test_keyword_hits_are_every_groups_longest_word_at_every_position(corpus_reports):
    texts = [r.text[:1500] for r in corpus_reports[:4]] + [
        "通过政府门户网站、政务微博、微信公众号等发布信息；召开新闻发布会3场，规范性文件",
        "政府网政府网站网站政务公开平台公开平台公开栏共计合计万元金额"]
    for text in texts:
        assert keyword_hits(text, 0, len(text)) == _hits_by_scanning(text)
        # a window ends the words in it
        assert keyword_hits(text, 5, 40) == [h for h in _hits_by_scanning(text[:40]) if h[1] >= 5]


def test_span_prefixes_are_found_by_the_text_before_the_start():
    # at most one prefix can end where a span starts, so looking them up by length finds
    # the one a scan of the list in order finds
    prefixes = metrics._SPAN_PREFIXES
    assert not [(p, q) for p in prefixes for q in prefixes if p != q and p.endswith(q)]
    text = "依法作出行政处罚决定，召开新闻发布会，被申请行政复议，已全部办结，共受理，官方微博"
    for start in range(len(text) + 1):
        for floor in (0, max(0, start - 2)):
            scanned = next((p for p in prefixes if text.startswith(p, start - len(p))
                            and start - len(p) >= floor), None)
            assert metrics._span_prefix(text, start, floor) == scanned


@pytest.mark.parametrize("text", ["“青阳发布”微信公众号发布信息", "《政府网站工作年度报表》网站发布", "\"政务微博\"官方微博",
                                  "无关键词的文字", "“微信”", ""])
def test_the_first_keyword_outside_quotes(text):
    groups = ("ch_wechat", "ch_portal", "ch_weibo", "pub_verb")
    words = [w for g in groups for w in KEYWORDS[g]]
    quoted = [(m.start(), m.end()) for m in metrics._QUOTED.finditer(text)]
    scanned = next((p for p in range(len(text)) if any(text.startswith(w, p) for w in words)
                    and not any(s <= p < e for s, e in quoted)), None)
    assert metrics._first_keyword(text, groups) == scanned


def test_a_line_without_a_digit_or_numeral_pair_holds_no_number(corpus_reports):
    lines = [line.strip() for r in corpus_reports for line in r.text.splitlines()]
    lines += ["全年共发布信息三十五条", "一是加强组织领导，二是完善制度", "第十次会议", "统一规范", "共１２条",
              "二〇二四年", "千余人", "两千", "十", "百分之五", "万"]
    for line in lines:
        if not metrics._MAYBE_NUMBER.search(line):
            assert count_numbers(line, 3) == 0 and numbers_in(line) == [], line


def test_crlf_and_indented_lines_read_as_plain_ones():
    text = ("一、总体情况\n全年通过区政府门户网站和政务公开平台主动发布各类信息\n35条，微信公众号发布12条。\n"
            "信息内容\t本年新制作数量\n规章\t3\n"
            "二、主动公开\n本年度共召开新闻发布会3场，\n回应关切5次。\n")
    plain = prose_blocks(Document(text=text))
    assert [b.text for b in plain] == ["全年通过区政府门户网站和政务公开平台主动发布各类信息35条，微信公众号发布12条。",
                                       "本年度共召开新闻发布会3场，回应关切5次。"]
    for variant in (text.replace("\n", "\r\n"), text.replace("\n", "\n  \u3000")):
        blocks = prose_blocks(Document(text=variant))
        assert [b.text for b in blocks] == [b.text for b in plain]
        for b in blocks:  # every character of a block is the source's
            assert all(variant[b.offset(i)] == ch for i, ch in enumerate(b.text))
