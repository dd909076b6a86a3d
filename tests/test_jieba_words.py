"""The word cutter that reads jieba's dictionary as needed must cut exactly as jieba
(and the spaCy zh pipeline) does, build its cache safely and survive a bad one."""

from __future__ import annotations

import json
import logging
import os
import stat
from concurrent.futures import ThreadPoolExecutor

import jieba
import pytest

from service import metrics
from service.jieba_words import GroupedDictionary, cache_file, load_tokenizer

ODD_TEXTS = [
    "",
    " ",
    "（一）政府网站发布信息 395 篇；微信公众号９７６条。",
    "a  b\u3000c，。 \n\n 测试 ～～ …… ABC-123 x.y 50%",
    "本机关全年收到政府信息公开申请１２件，其中自然人申请10件，商业\n企业2件。",
    "𠮷野家 emoji 😀 混排",
]


@pytest.fixture(scope="module")
def full_jieba():
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def test_cuts_exactly_as_jieba_with_its_whole_dictionary(tmp_path, full_jieba, seed_reports):
    texts = [r.text for r in seed_reports] + ODD_TEXTS
    built = load_tokenizer(tmp_path)  # builds the grouped copy
    assert cache_file(tmp_path).exists()
    assert built.tokenizer.FREQ == {}  # and reads it back, starting with an empty dictionary
    reread = load_tokenizer(tmp_path)
    assert reread.tokenizer.FREQ == {}
    for text in texts:
        expected = list(full_jieba.cut(text, cut_all=False))
        assert built.cut(text) == expected
        assert reread.cut(text) == expected
    # only the groups of characters seen were read, not the whole dictionary
    assert 0 < len(reread.tokenizer.FREQ) < len(full_jieba.FREQ)
    assert reread.tokenizer.total == full_jieba.total


@pytest.fixture(scope="module")
def built_cache(tmp_path_factory):
    """A cache directory holding the grouped dictionary (building it takes a second or two)."""
    directory = tmp_path_factory.mktemp("jieba-cache")
    load_tokenizer(directory)
    return directory


def test_threads_cutting_at_once_get_the_same_words(built_cache, full_jieba, seed_reports):
    fresh = load_tokenizer(built_cache)
    pieces = [r.text[i:i + 200] for r in seed_reports for i in range(0, len(r.text), 200)]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(fresh.cut, pieces))
    assert got == [list(full_jieba.cut(p, cut_all=False)) for p in pieces]


def test_a_stale_or_broken_cache_is_rebuilt(tmp_path):
    path = cache_file(tmp_path)
    load_tokenizer(tmp_path)
    header = json.loads(path.read_bytes().partition(b"\n")[0])
    assert GroupedDictionary.read(path, header["source"]) is not None
    assert GroupedDictionary.read(path, "another dictionary") is None
    path.write_bytes(b"not a dictionary")
    assert GroupedDictionary.read(path, header["source"]) is None
    assert load_tokenizer(tmp_path).cut("政府网站") == ["政府", "网站"]
    assert GroupedDictionary.read(path, header["source"]) is not None  # written afresh


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write anywhere")
def test_an_unwritable_cache_keeps_the_whole_dictionary_in_memory(tmp_path, caplog):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with caplog.at_level(logging.WARNING):
            tokenizer = load_tokenizer(locked / "cache")
        assert tokenizer.grouped is None and len(tokenizer.tokenizer.FREQ) > 100_000
        assert tokenizer.cut("政府网站") == ["政府", "网站"]
        assert "cannot write" in caplog.text
    finally:
        locked.chmod(stat.S_IRWXU)


def test_a_file_in_the_way_of_the_cache_keeps_the_whole_dictionary_in_memory(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    tokenizer = load_tokenizer(blocker)
    assert tokenizer.grouped is None
    assert tokenizer.cut("政府网站") == ["政府", "网站"]


def test_words_are_the_spacy_zh_pipelines_tokens(seed_reports):
    metrics.check_words_match_spacy([r.text for r in seed_reports] + ODD_TEXTS)


def test_the_spacy_check_fails_when_the_cutters_disagree(monkeypatch):
    monkeypatch.setattr(metrics, "is_punct", lambda word: False)  # keeps punctuation
    with pytest.raises(RuntimeError, match="no longer cuts as the spaCy zh pipeline"):
        metrics.check_words_match_spacy(["政府网站发布信息，共395条。"])


def test_two_installs_sharing_a_cache_directory_keep_their_own_copies(tmp_path, monkeypatch):
    from service import jieba_words

    ours = cache_file(tmp_path)
    monkeypatch.setattr(jieba_words, "_source_stamp", lambda path: "another install's dict.txt")
    theirs = cache_file(tmp_path)
    assert ours.parent == theirs.parent == tmp_path and ours != theirs
