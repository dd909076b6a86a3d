"""Safe, deterministic storage for the project's scikit-learn models.

Models are written as plain JSON (gzip with a fixed timestamp): loading never
executes code, unlike pickle/joblib, and the same fitted model always gives the
same bytes, so retraining on the same corpus leaves ``models/`` unchanged.

Only the estimator kinds the project uses are supported: ``DictVectorizer``,
``TfidfVectorizer``/``CountVectorizer`` and the linear classifiers
(``LogisticRegression``, ``LinearSVC``, ``SGDClassifier``), alone or chained in a
``Pipeline``.  Anything else raises ``TypeError`` at save time.

Inference never imports scikit-learn (a second of start-up): :func:`linear_pipeline`
rebuilds a stored DictVectorizer + linear classifier as plain weights that expose
the fitted attributes the model classes read (``vocabulary_``, ``classes_``,
``coef_``, ``intercept_``).  Training and :func:`estimator_from_dict` import it
when they need a real estimator.
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_VERSION = 1

_LINEAR = ("LogisticRegression", "LinearSVC", "SGDClassifier")
_TEXT = ("TfidfVectorizer", "CountVectorizer")
# Constructor parameters of the text vectorisers that survive a round trip
# (callables such as a custom analyzer cannot, and are refused).
_TEXT_PARAMS = ("analyzer", "ngram_range", "lowercase", "min_df", "max_df", "max_features",
                "sublinear_tf", "norm", "use_idf", "smooth_idf", "binary", "token_pattern")


def _round(values: np.ndarray) -> list:
    # 8 significant digits keep predictions identical while making the JSON
    # independent of platform float printing quirks.
    return np.asarray(values, dtype=float).round(10).tolist()


def estimator_to_dict(est: Any) -> dict:
    """Describe a fitted estimator as JSON-ready data."""
    if isinstance(est, _Stored):
        return est.data  # loaded by linear_pipeline: saved back as it was read
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.pipeline import Pipeline

    name = type(est).__name__
    if isinstance(est, Pipeline):
        return {"kind": "Pipeline",
                "steps": [[n, estimator_to_dict(s)] for n, s in est.steps]}
    if isinstance(est, DictVectorizer):
        return {"kind": name, "separator": est.separator, "sparse": est.sparse,
                "feature_names": list(est.feature_names_)}
    if name in _TEXT:
        params = est.get_params()
        for p in _TEXT_PARAMS:
            if callable(params.get(p)):
                raise TypeError(f"{name}.{p} is a callable and cannot be stored safely")
        vocab = sorted(est.vocabulary_.items(), key=lambda kv: kv[1])
        out = {"kind": name, "params": {p: params[p] for p in _TEXT_PARAMS if p in params},
               "vocabulary": [k for k, _ in vocab]}
        if name == "TfidfVectorizer" and est.use_idf:
            out["idf"] = _round(est.idf_)
        return out
    if name in _LINEAR:
        classes = est.classes_.tolist()
        return {"kind": name, "classes": classes, "coef": _round(est.coef_),
                "intercept": _round(np.atleast_1d(est.intercept_))}
    raise TypeError(f"cannot store a {name} safely; supported: Pipeline, DictVectorizer, "
                    f"{', '.join(_TEXT)}, {', '.join(_LINEAR)}")


def estimator_from_dict(data: dict) -> Any:
    """Rebuild a scikit-learn estimator written by :func:`estimator_to_dict`."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.svm import LinearSVC

    linear = {"LogisticRegression": LogisticRegression, "LinearSVC": LinearSVC,
              "SGDClassifier": SGDClassifier}
    text = {"TfidfVectorizer": TfidfVectorizer, "CountVectorizer": CountVectorizer}
    kind = data.get("kind")
    if kind == "Pipeline":
        return Pipeline([(n, estimator_from_dict(s)) for n, s in data["steps"]])
    if kind == "DictVectorizer":
        est = DictVectorizer(separator=data["separator"], sparse=data["sparse"])
        est.feature_names_ = list(data["feature_names"])
        est.vocabulary_ = {f: i for i, f in enumerate(est.feature_names_)}
        return est
    if kind in _TEXT:
        params = dict(data["params"])
        if "ngram_range" in params:
            params["ngram_range"] = tuple(params["ngram_range"])
        est = text[kind](**params)
        est.vocabulary_ = {t: i for i, t in enumerate(data["vocabulary"])}
        if "idf" in data:
            est.idf_ = np.asarray(data["idf"], dtype=float)
        return est
    if kind in _LINEAR:
        est = linear[kind]()
        est.classes_ = np.asarray(data["classes"])
        est.coef_ = np.asarray(data["coef"], dtype=float)
        est.intercept_ = np.asarray(data["intercept"], dtype=float)
        est.n_features_in_ = est.coef_.shape[1]
        return est
    raise ValueError(f"unknown estimator kind in model file: {kind!r}")


class _Stored:
    """A stored estimator read back without scikit-learn; ``data`` is what was stored."""

    def __init__(self, data: dict):
        self.data = data


class StoredVectorizer(_Stored):
    """A DictVectorizer's fitted vocabulary."""

    def __init__(self, data: dict):
        super().__init__(data)
        self.feature_names_: list[str] = list(data["feature_names"])
        self.vocabulary_ = {f: i for i, f in enumerate(self.feature_names_)}


class StoredLinear(_Stored):
    """A linear classifier's fitted weights."""

    def __init__(self, data: dict):
        super().__init__(data)
        self.classes_ = np.asarray(data["classes"])
        self.coef_ = np.asarray(data["coef"], dtype=float)
        self.intercept_ = np.asarray(data["intercept"], dtype=float)


class StoredPipeline(_Stored):
    """``steps`` as a scikit-learn Pipeline names them: [(name, step), …]."""

    def __init__(self, data: dict, steps: list[tuple[str, _Stored]]):
        super().__init__(data)
        self.steps = steps


def linear_pipeline(data: dict) -> StoredPipeline:
    """A stored DictVectorizer + linear classifier pipeline, as weights for inference."""
    steps = data.get("steps") if data.get("kind") == "Pipeline" else None
    kinds = [step.get("kind") for _, step in steps] if steps else []
    if len(kinds) != 2 or kinds[0] != "DictVectorizer" or kinds[1] not in _LINEAR:
        raise ValueError(f"expected a DictVectorizer + linear classifier pipeline, got {kinds or data.get('kind')!r}")
    (vec_name, vec), (clf_name, clf) = steps
    return StoredPipeline(data, [(vec_name, StoredVectorizer(vec)), (clf_name, StoredLinear(clf))])


def save(path: str | Path, payload: dict) -> None:
    """Write ``payload`` (JSON data; estimators already turned into dicts) to ``path``.

    Keys are sorted and the gzip header carries no timestamp, so equal payloads
    give byte-identical files.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps({"format": FORMAT_VERSION, **payload}, ensure_ascii=False,
                      sort_keys=True, separators=(",", ":")).encode("utf-8")
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
        gz.write(body)
    path.write_bytes(buf.getvalue())


def load(path: str | Path) -> dict:
    """Read a payload written by :func:`save`."""
    path = Path(path)
    try:
        data = json.loads(gzip.decompress(path.read_bytes()).decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a govreport model file ({exc})") from exc
    if data.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path}: model format {data.get('format')!r}, expected {FORMAT_VERSION}")
    return data
