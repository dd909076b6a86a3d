"""Row classification: which canonical row a table row is, from its label.

Features are character n-grams of the row's own label (numbering, brackets,
artefacts such as ``[bookmark: _Hlk…]`` and spaces removed, full-width folded),
its last characters (in a joined label, the row's own words), fewer n-grams of
the parent label carried down from a merged cell (alone, and joined to the
own label, which mends labels wrapped mid-word), the kind and
value of the label's numbering (（六） vs 3.; the last number in the label is the
row's own), and how many figures the row has.
A linear classifier over them gives, for every row of a document at once, a
probability per ``table.row`` class (plus ``_none`` for furniture and rows the
template does not know); ``assemble`` combines them with the template order.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from itertools import accumulate, chain, repeat
from pathlib import Path

import numpy as np

from service import modelstore
from service.numbers import chinese_to_int, fold
from service.tables.grid import TableRow
from service.template import (
    ACTIVE_2019,
    ACTIVE_2021,
    APPLICATION_ROWS_2021,
    OTHER_HANDLING_2019,
    REVIEW_GROUPS,
)

MODEL_FILE = "table_rows.json.gz"
NONE_CLASS = "_none"

_ARTEFACT = re.compile(r"\[bookmark:[^\]]*\]|\[_?[A-Za-z]+\d*\]|\{#[^}]*\}")
# Numbering in any style: 一、 （一） (一) 1. 1、 （1） ① — anywhere, since a label
# may hold its parent's numbering too (三、本年度办理结果（一）予以公开).
_NUMBERING = re.compile(
    r"(?P<cn>[一二三四五六七八九十]{1,3})\s*[、.．]"
    r"|[（(]\s*(?P<pcn>[一二三四五六七八九十]{1,3})\s*[)）]"
    r"|[（(]\s*(?P<pdig>\d{1,2})\s*[)）]"
    r"|(?<![\d.])(?P<dig>\d{1,2})\s*[.、．](?!\d)"
    r"|(?P<circ>[①②③④⑤⑥⑦⑧⑨⑩])")
_NON_WORD = re.compile(r"[\W_]+")


@lru_cache(maxsize=8192)
def strip_label(text: str) -> tuple[str, tuple[tuple[str, int], ...]]:
    """(normalised label, the (kind, value) of every numbering token in it, in order)."""
    s = _ARTEFACT.sub("", fold(text))
    numbers = []
    for m in _NUMBERING.finditer(s):
        kind = m.lastgroup or "none"
        token = m.group(kind)
        if kind in ("cn", "pcn"):
            value = chinese_to_int(token) or 0
        elif kind == "circ":
            value = "①②③④⑤⑥⑦⑧⑨⑩".index(token) + 1
        else:
            value = int(token)
        numbers.append((kind, value))
    s = _NUMBERING.sub("", s)
    return _NON_WORD.sub("", s).lower(), tuple(numbers)


def _grams(s: str, lo: int, hi: int) -> list[str]:
    return [s[i:i + n] for n in range(lo, hi + 1) for i in range(len(s) - n + 1)]


def _bucket(n: int) -> str:
    return str(n) if n <= 3 else "4-5" if n <= 5 else "6-7" if n <= 7 else "8+"


def row_key(row: TableRow) -> tuple:
    """What the features of a row depend on (rows repeat across documents: cacheable)."""
    return row.label_text, tuple(row.context), row.filled, len(row.values)


def row_features(row: TableRow) -> dict[str, float]:
    """The classifier's view of one row (see the module docstring)."""
    names, values = _features(*row_key(row))
    return dict(zip(names, values))


def _add_grams(feats: dict[str, float], prefix: str, grams: list[str], weight: float) -> None:
    """Each gram under ``prefix``, weighted ``weight / sqrt(len(grams))``, summed when it repeats."""
    if not grams:
        return
    w = weight / math.sqrt(len(grams))
    for g in grams:
        key = prefix + g
        feats[key] = feats.get(key, 0.0) + w


@lru_cache(maxsize=8192)
def _gram_features(prefix: str, s: str, lo: int, hi: int, weight: float) -> tuple[tuple[str, float], ...]:
    """The n-gram features of one string (a label, a context: each recurs under
    many different rows, so they are worked out once)."""
    feats: dict[str, float] = {}
    _add_grams(feats, prefix, _grams(s, lo, hi), weight)
    return tuple(feats.items())


@lru_cache(maxsize=8192)
def _features(label: str, context: tuple[str, ...], filled: int,
              n_values: int) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """(feature names, their values) of a row, in a fixed order."""
    own, numbers = strip_label(label)
    ctx = strip_label(" ".join(context))[0]
    # The nearest parent joined to the row's own label: a label broken over two
    # lines (…政府信息公 / 开申请 0 0 …) is seen whole again.
    joined = strip_label(context[-1])[0] + own if context else ""
    feats = dict(_gram_features("o:", own, 1, 3, 1.0))
    # the end of the label: in a joined label (三、…（六）其他处理 3.其他) the row's own words
    _add_grams(feats, "s:", [own[-n:] for n in (2, 3, 4) if len(own) >= n], 0.6)
    feats.update(_gram_features("c:", ctx, 2, 2, 0.5))
    feats.update(_gram_features("j:", joined, 3, 3, 0.7))
    if not own:
        feats["o:EMPTY"] = 1.0
    # numbering: the last token is the row's own (（六） in 三、本年度办理结果（六）其他处理)
    kind, value = numbers[-1] if numbers else ("none", 0)
    feats["nk:" + kind] = 0.5
    feats[f"nv:{kind}{value}"] = 0.5
    for k, v in numbers[:-1]:
        feats[f"na:{k}{v}"] = 0.3
    # the parent's own number: a label wrapped right after its numbering (（六）/其他处理)
    parent_numbers = strip_label(context[-1])[1] if context else ()
    if parent_numbers:
        k, v = parent_numbers[-1]
        feats[f"cv:{k}{v}"] = 0.4
    feats["nf:" + _bucket(filled)] = 0.5
    feats["nc:" + _bucket(n_values)] = 0.3
    feats["len:" + _bucket(len(own) // 3)] = 0.3
    return tuple(feats), tuple(feats.values())


# --- the classes and a model-free fallback --------------------------------------

def _canonical_labels() -> dict[str, str]:
    labels = {f"active_disclosure.{k}": lab for k, (lab, _) in {**ACTIVE_2021, **ACTIVE_2019}.items()}
    labels.update({f"applications.{k}": lab for k, lab in APPLICATION_ROWS_2021.items()})
    labels[f"applications.{OTHER_HANDLING_2019[0]}"] = OTHER_HANDLING_2019[1]
    labels.update({f"review_litigation.{k}": lab for k, lab in REVIEW_GROUPS.items()})
    return labels


CANONICAL_LABELS = _canonical_labels()


class RowModel:
    """The fitted row classifier (DictVectorizer + linear model, via modelstore)."""

    def __init__(self, vocabulary: dict[str, int] | None = None, classifier=None,
                 meta: dict | None = None):
        self.vocabulary = vocabulary or {}
        self.classifier = classifier
        self.meta = meta or {}
        self.classes: list[str] = (list(classifier.classes_) if classifier is not None
                                   else list(CANONICAL_LABELS) + [NONE_CLASS])
        self._weights: np.ndarray | None = None  # coef_.T with a zero row for unknown names
        self._cache: dict[tuple, np.ndarray] = {}

    @classmethod
    def from_pipeline(cls, pipeline, meta: dict | None = None) -> RowModel:
        vectorizer, classifier = pipeline.steps[0][1], pipeline.steps[-1][1]
        return cls(dict(vectorizer.vocabulary_), classifier, meta)

    # -- persistence --
    def save(self, directory: Path) -> None:
        if self.classifier is None:
            raise ValueError("an unfitted RowModel cannot be saved")
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.pipeline import Pipeline

        vectorizer = DictVectorizer()
        vectorizer.feature_names_ = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        vectorizer.vocabulary_ = dict(self.vocabulary)
        pipeline = Pipeline([("features", vectorizer), ("classifier", self.classifier)])
        modelstore.save(Path(directory) / MODEL_FILE,
                        {"pipeline": modelstore.estimator_to_dict(pipeline), "meta": self.meta})

    @classmethod
    def load(cls, directory: Path) -> RowModel:
        path = Path(directory) / MODEL_FILE
        if not path.exists():
            # Untrained: the template-similarity fallback below still reads tables.
            return cls()
        data = modelstore.load(path)
        return cls.from_pipeline(modelstore.linear_pipeline(data["pipeline"]), data.get("meta"))

    # -- prediction: one matrix product per document --
    def predict_proba(self, rows: list[TableRow]) -> np.ndarray:
        """Class probabilities (rows × ``self.classes``) for every row at once."""
        if not rows:
            return np.zeros((0, len(self.classes)))
        if self.classifier is None:
            return self._similarity(rows)
        keys = [row_key(row) for row in rows]
        # Logits are cached by what a row's features depend on (labels repeat across
        # documents); the rows not seen before are scored together, in one gather.
        fresh = self._logits([k for k in dict.fromkeys(keys) if k not in self._cache])
        scores = np.array([fresh[k] if k in fresh else self._cache[k] for k in keys])
        if scores.shape[1] == 1:  # binary model: one column of logits for classes_[1]
            scores = np.hstack([np.zeros_like(scores), scores])
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        return scores / scores.sum(axis=1, keepdims=True)

    def _logits(self, keys: list[tuple]) -> dict[tuple, np.ndarray]:
        """Class scores of rows (by ``row_key``): one sparse gather and one
        ``np.add.reduceat`` for all of them; remembered while the cache has room."""
        if not keys:
            return {}
        if self._weights is None:
            coef = np.asarray(self.classifier.coef_, dtype=float)
            # feature × class, plus a zero row for names the model does not know
            self._weights = np.vstack([coef.T, np.zeros((1, coef.shape[0]))])
        names, values = zip(*[_features(*key) for key in keys])  # never empty: nk:/nf:/…
        unknown = len(self.vocabulary)
        n = sum(map(len, names))
        cols = np.fromiter(map(self.vocabulary.get, chain.from_iterable(names), repeat(unknown)),
                           np.intp, n)
        vals = np.fromiter(chain.from_iterable(values), float, n)
        starts = np.fromiter(accumulate(map(len, names[:-1]), initial=0), np.intp, len(names))
        weighted = self._weights[cols]
        weighted *= vals[:, None]  # (in place: a second array this size costs more than the sum)
        logits = np.add.reduceat(weighted, starts, axis=0)
        logits += self.classifier.intercept_
        out = dict(zip(keys, logits))
        if len(self._cache) + len(out) <= 20000:
            self._cache.update(out)
        return out

    def _similarity(self, rows: list[TableRow]) -> np.ndarray:
        """Without a trained model: bigram overlap with the canonical labels."""
        refs = {c: set(_grams(strip_label(lab)[0], 2, 2)) for c, lab in CANONICAL_LABELS.items()}
        out = np.zeros((len(rows), len(self.classes)))
        for i, row in enumerate(rows):
            grams = set(_grams(strip_label(row.label_text)[0], 2, 2))
            for j, c in enumerate(self.classes):
                ref = refs.get(c)
                if ref and grams:
                    out[i, j] = len(grams & ref) / len(grams | ref)
            best = out[i].max()
            out[i, self.classes.index(NONE_CLASS)] = max(0.0, 0.5 - best)
            out[i] /= out[i].sum() or 1.0
        return out
