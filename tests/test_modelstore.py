"""Model files: safe (JSON), deterministic, and faithful on reload."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from service import modelstore

LABELS = ["规章", "行政规范性文件", "行政许可", "行政处罚", "行政强制", "行政事业性收费"]


def _fit_text_model():
    texts = LABELS + ["本年规章", "规范性文件", "许可决定", "处罚决定", "强制措施", "收费金额"]
    y = list(range(6)) * 2
    return make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 2)),
                         LogisticRegression(max_iter=500)).fit(texts, y)


def test_round_trip_gives_the_same_predictions(tmp_path):
    model = _fit_text_model()
    modelstore.save(tmp_path / "m.json.gz", {"model": modelstore.estimator_to_dict(model)})
    loaded = modelstore.estimator_from_dict(modelstore.load(tmp_path / "m.json.gz")["model"])
    probe = ["规章制度", "行政处罚决定书", "收费", "不相干的文字"]
    np.testing.assert_allclose(loaded.predict_proba(probe), model.predict_proba(probe), atol=1e-8)


def test_dict_vectorizer_round_trip(tmp_path):
    X = [{"len": 3, "num=一、": 1}, {"len": 10, "tab": 1}, {"len": 5}]
    model = make_pipeline(DictVectorizer(), LogisticRegression()).fit(X, [1, 0, 1])
    data = modelstore.estimator_to_dict(model)
    assert modelstore.estimator_from_dict(data).predict(X).tolist() == model.predict(X).tolist()


def test_same_model_same_bytes(tmp_path):
    for name in ("a", "b"):
        modelstore.save(tmp_path / f"{name}.json.gz",
                        {"model": modelstore.estimator_to_dict(_fit_text_model())})
    assert (tmp_path / "a.json.gz").read_bytes() == (tmp_path / "b.json.gz").read_bytes()


def test_unsupported_estimators_are_refused():
    from sklearn.ensemble import RandomForestClassifier

    forest = RandomForestClassifier(n_estimators=2).fit([[0], [1]], [0, 1])
    with pytest.raises(TypeError, match="cannot store a RandomForestClassifier"):
        modelstore.estimator_to_dict(forest)


def test_a_file_that_is_not_a_model_is_a_clear_error(tmp_path):
    (tmp_path / "x.json.gz").write_bytes(b"\x80\x04pickle?")
    with pytest.raises(ValueError, match="not a govreport model file"):
        modelstore.load(tmp_path / "x.json.gz")
