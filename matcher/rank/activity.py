"""Patent activity of an enterprise: how much its profile looks like the profiles of enterprises that file patents.

A query-independent prior for ranking enterprises. Business scopes rarely use patent language, so which company
filed a patent is poorly told apart from its competitors by text similarity alone; but the companies that file
patents at all are a small, recognisable part of a registry: joint-stock companies and groups, research and
development in the scope, certain trades. A logistic regression over character n-grams of the name and of the
profile text plus a few structural features of the name and scope learns that from labelled enterprises (those
linked as applicants of indexed patents, or the dev benchmarks' companies; see matcher.training.activity).

The engine uses it (fusion weight "activity", config `activity_model`) as the enterprise's percentile among the
indexed organisations (0.87: its profile looks more patent-active than 87 % of them), shown as 专利活跃度 in the
workbench and exported as `activity`. Demands and other records whose name is not an organisation's get no value
(NaN: no evidence; the fusion gives them the pool's average). For a tech-transfer office it reads as absorptive capacity: an enterprise
that files patents is likelier to take up a licence.

The model is stored without pickle: vocabularies and idf as JSON, weights as .npz, and a model card.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize as l2_normalize

from matcher.errors import MatcherError
from matcher.index.atomic import atomic_dir
from matcher.text.normalize import SCOPE_PREFIX, company_key, is_organisation_name

FORMAT = "matcher-activity-1"
CONFIG_FILE = "activity.json"
WEIGHTS_FILE = "weights.npz"
_ITEM_SPLIT = re.compile(r"[、；;，,。]")
# (feature name, test on (name, scope)); the structural cues that tell patent filers apart in a registry
_CUES: tuple[tuple[str, object], ...] = (
    ("joint_stock", lambda n, s: "股份" in n),
    ("group", lambda n, s: "集团" in n),
    ("research", lambda n, s: "研发" in s or "研究" in s),
    ("tech_development", lambda n, s: "技术开发" in s),
    ("manufacturing", lambda n, s: "制造" in s or "生产" in s),
    ("import_export", lambda n, s: "进出口" in s),
    ("branch_bracket", lambda n, s: "(" in n or "（" in n),
    ("technology_name", lambda n, s: "科技" in n),
    ("limited_company", lambda n, s: "有限公司" in n),
)
STRUCTURE_FEATURES = ("scope_chars_log", "scope_items_log", *(name for name, _ in _CUES), "name_chars")


def profile_parts(name: object, text: object) -> tuple[str, str]:
    """The enterprise name (company key) and its profile text without a leading "经营范围：" label."""
    key = company_key("" if name is None else str(name))
    scope = "" if text is None else str(text).strip()
    return key, scope.removeprefix(SCOPE_PREFIX)


def structure_features(names: Sequence[str], scopes: Sequence[str]) -> np.ndarray:
    """(n, len(STRUCTURE_FEATURES)) raw structural features of names and scopes (unstandardised)."""
    rows = []
    for name, scope in zip(names, scopes):
        items = [t for t in _ITEM_SPLIT.split(scope) if t.strip()]
        rows.append([np.log1p(len(scope)), np.log1p(len(items)), *(float(test(name, scope)) for _, test in _CUES),
                     float(len(name))])
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(STRUCTURE_FEATURES))


@dataclass
class _Ngrams:
    """Character n-gram tf-idf (sublinear tf, l2-normalised) with a fixed vocabulary."""

    vocabulary: dict[str, int]
    idf: np.ndarray
    ngram_range: tuple[int, int]

    @classmethod
    def fit(cls, texts: Sequence[str], ngram_range: tuple[int, int], min_df: int) -> _Ngrams:
        vec = TfidfVectorizer(analyzer="char", ngram_range=ngram_range, min_df=min_df, sublinear_tf=True, dtype=np.float64)
        try:
            vec.fit(texts)
        except ValueError:  # no n-gram reaches min_df (a tiny corpus): fall back to every n-gram
            vec = TfidfVectorizer(analyzer="char", ngram_range=ngram_range, sublinear_tf=True, dtype=np.float64).fit(texts)
        return cls({k: int(v) for k, v in vec.vocabulary_.items()}, vec.idf_.astype(np.float64), ngram_range)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        counts = CountVectorizer(analyzer="char", ngram_range=self.ngram_range, vocabulary=self.vocabulary,
                                 dtype=np.float64).transform(texts).tocsr()
        counts.data = 1.0 + np.log(counts.data)
        return l2_normalize(counts @ sp.diags(self.idf), norm="l2", copy=False).tocsr()


class ActivityModel:
    """Scores enterprise profiles by how patent-active they look (log-odds of filing patents).

    Build one with `fit`, or `load` a saved one; `percentiles` is what the engine ranks with.

    Args:
        names: character n-grams of the name.
        texts: character n-grams of name + profile text.
        mean, scale: standardisation of the structural features.
        coef, intercept: the logistic regression.
        card: what the model was trained on and how well it did (written to the model card).
        known: company key -> log-odds to use instead of the model's, for the enterprises it was trained on: their
            cross-fitted scores (from models that did not see them), so that a training label never scores itself
            (an enterprise known to file patents already has the portfolio signal, and a benchmark company's own
            label must not rank it).
    """

    def __init__(self, names: _Ngrams, texts: _Ngrams, mean: np.ndarray, scale: np.ndarray, coef: np.ndarray,
                 intercept: float, card: dict | None = None, known: dict[str, float] | None = None) -> None:
        self._names, self._texts = names, texts
        self.mean, self.scale = mean, scale
        self.coef, self.intercept = coef, float(intercept)
        self.card = dict(card or {})
        self.known = dict(known or {})

    def _features(self, names: Sequence[object], texts: Sequence[object]) -> sp.csr_matrix:
        keys, scopes = zip(*(profile_parts(n, t) for n, t in zip(names, texts))) if len(names) else ((), ())
        structure = (structure_features(keys, scopes) - self.mean) / self.scale
        return sp.hstack([self._names.transform(keys), self._texts.transform([f"{k}。{s}" for k, s in zip(keys, scopes)]),
                          sp.csr_matrix(structure)]).tocsr()

    @classmethod
    def fit(cls, names: Sequence[object], texts: Sequence[object], labels: Sequence[bool], *, c: float = 0.3,
            min_df: int = 5, card: dict | None = None) -> ActivityModel:
        """Fit the model on labelled enterprise profiles.

        Args:
            names: enterprise names.
            texts: their profile texts (business scope or description).
            labels: True for enterprises that file patents.
            c: inverse L2 regularisation strength of the logistic regression.
            min_df: an n-gram of the profile texts must occur in this many profiles (names: min_df - 2, at least 1).
            card: extra facts for the model card (data source, counts).

        Raises:
            MatcherError: the lengths differ, or there are not both positives and negatives.
        """
        y = np.asarray(labels, dtype=bool)
        if not (len(names) == len(texts) == len(y)):
            raise MatcherError(f"activity model: {len(names)} names, {len(texts)} texts and {len(y)} labels differ in number")
        if y.all() or not y.any():
            raise MatcherError("activity model: the labels need both patent-filing and other enterprises")
        keys, scopes = zip(*(profile_parts(n, t) for n, t in zip(names, texts)))
        structure = structure_features(keys, scopes)
        mean, scale = structure.mean(axis=0), structure.std(axis=0)
        scale[scale == 0] = 1.0
        name_grams = _Ngrams.fit(keys, (1, 2), max(1, min_df - 2))
        text_grams = _Ngrams.fit([f"{k}。{s}" for k, s in zip(keys, scopes)], (1, 2), min_df)
        model = cls(name_grams, text_grams, mean, scale, np.zeros(0), 0.0)
        lr = LogisticRegression(C=c, max_iter=3000, class_weight="balanced").fit(model._features(names, texts), y)
        model.coef, model.intercept = lr.coef_[0].astype(np.float64), float(lr.intercept_[0])
        model.card = {"c": c, "min_df": min_df, "positives": int(y.sum()), "enterprises": int(len(y)), **(card or {})}
        return model

    def log_odds(self, names: Sequence[object], texts: Sequence[object], *, cross_fitted: bool = True) -> np.ndarray:
        """The log-odds that each enterprise files patents (for the enterprises in `known`, their cross-fitted
        score unless cross_fitted=False)."""
        if len(names) == 0:
            return np.zeros(0)
        scores = self._features(names, texts) @ self.coef + self.intercept
        if cross_fitted and self.known:
            for i, name in enumerate(names):
                value = self.known.get(company_key("" if name is None else str(name)))
                if value is not None:
                    scores[i] = value
        return scores

    def percentiles(self, names: Sequence[object], texts: Sequence[object]) -> np.ndarray:
        """Each organisation's share of the given organisations that look less patent-active (ties share), in
        [0, 1); NaN for records that are not organisations (a demand's title and text are not a company profile,
        so the model has nothing to say about them; see `is_organisation_name`)."""
        out = np.full(len(names), np.nan)
        companies = np.flatnonzero([is_organisation_name(None if n is None else str(n)) for n in names])
        if len(companies):
            scores = self.log_odds([names[i] for i in companies], [texts[i] for i in companies])
            out[companies] = (rankdata(scores, method="average") - 1.0) / len(scores)
        return out

    def top_terms(self, k: int = 20) -> list[tuple[str, float]]:
        """The name / profile n-grams and structural features with the largest weights (for the model card)."""
        labels = ([f"name:{g}" for g, _ in sorted(self._names.vocabulary.items(), key=lambda kv: kv[1])]
                  + [f"text:{g}" for g, _ in sorted(self._texts.vocabulary.items(), key=lambda kv: kv[1])]
                  + [f"feature:{f}" for f in STRUCTURE_FEATURES])
        order = np.argsort(-self.coef)[:k]
        return [(labels[i], round(float(self.coef[i]), 3)) for i in order]

    def save(self, directory: str | Path) -> Path:
        """Write the model directory atomically (a failed save leaves the previous model in place)."""
        directory = Path(directory)
        config = {"format": FORMAT, "name_ngrams": list(self._names.ngram_range), "text_ngrams": list(self._texts.ngram_range),
                  "name_vocabulary": self._names.vocabulary, "text_vocabulary": self._texts.vocabulary,
                  "structure_features": list(STRUCTURE_FEATURES), "card": self.card, "known": self.known}
        with atomic_dir(directory) as tmp:
            (tmp / CONFIG_FILE).write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
            np.savez(tmp / WEIGHTS_FILE, name_idf=self._names.idf, text_idf=self._texts.idf, mean=self.mean,
                     scale=self.scale, coef=self.coef, intercept=np.array([self.intercept]))
            (tmp / "README.md").write_text(model_card(self), encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> ActivityModel:
        """Load a saved model.

        Raises:
            MatcherError: the directory is missing, incomplete or holds another kind of model.
        """
        directory = Path(directory)
        try:
            config = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
            weights = np.load(directory / WEIGHTS_FILE)
        except FileNotFoundError:
            raise MatcherError(f"no activity model at {directory} (expected {CONFIG_FILE} and {WEIGHTS_FILE}): "
                               "train one with `matcher train-activity --out DIR`") from None
        except ValueError as exc:
            raise MatcherError(f"activity model at {directory} is damaged ({exc}): train it again") from None
        if config.get("format") != FORMAT or list(config.get("structure_features", [])) != list(STRUCTURE_FEATURES):
            raise MatcherError(f"{directory} holds an activity model of another format "
                               f"({config.get('format')!r}, expected {FORMAT!r}): train it again")
        names = _Ngrams(config["name_vocabulary"], weights["name_idf"], tuple(config["name_ngrams"]))
        texts = _Ngrams(config["text_vocabulary"], weights["text_idf"], tuple(config["text_ngrams"]))
        return cls(names, texts, weights["mean"], weights["scale"], weights["coef"], float(weights["intercept"][0]),
                   config.get("card"), config.get("known"))


def model_card(model: ActivityModel) -> str:
    """README.md of a saved activity model: what it learned from, how it did, and its strongest cues."""
    card = model.card
    lines = ["# Patent-activity model (matcher)", "",
             "Scores an enterprise profile (name + business scope / description) by how much it looks like the",
             "profiles of enterprises that file patents; the engine ranks with its percentile among the indexed",
             "enterprises (fusion weight `activity`). Trained with `matcher train-activity`.", "",
             "| fact | value |", "|---|---|"]
    lines += [f"| {k} | {json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v} |" for k, v in card.items()]
    lines += ["", "Strongest cues of patent activity:", ""]
    lines += [f"- `{term}` {weight:+.3f}" for term, weight in model.top_terms(20)]
    return "\n".join(lines) + "\n"
