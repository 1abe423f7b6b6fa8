"""Patent activity of an enterprise: how much its profile looks like the profiles of enterprises that file patents.

A query-independent prior for ranking enterprises. Business scopes rarely use patent language, so which company
filed a patent is poorly told apart from its competitors by text similarity alone; but the companies that file
patents at all are a small, recognisable part of a registry: joint-stock companies and groups, research and
development in the scope, certain trades, and size: the registered capital (注册资本) of a filer is typically 30
times a non-filer's. A logistic regression over character n-grams of the name and of the profile text, a few
structural features of the name and scope and the logarithm of the registered capital (where the records carry
it; a missing value counts as the training average) learns that from labelled enterprises (those
linked as applicants of indexed patents, or the dev benchmarks' companies; see matcher.training.activity). It is
cross-fitted: an enterprise is always scored by a member model that did not learn its label (`ActivityModel`).

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
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import normalize as l2_normalize

from matcher.errors import MatcherError
from matcher.index.atomic import atomic_dir
from matcher.text.capital import registered_capital
from matcher.text.normalize import SCOPE_PREFIX, company_key, is_organisation_name

FORMAT = "matcher-activity-3"
READABLE_FORMATS = ("matcher-activity-2", FORMAT)
"""Formats `ActivityModel.load` reads: format 2 has no capital feature and scores as it was trained."""
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
STRUCTURE_FEATURES = ("scope_chars_log", "scope_items_log", *(name for name, _ in _CUES), "name_chars", "capital_log")


def profile_parts(name: object, text: object) -> tuple[str, str]:
    """The enterprise name (company key) and its profile text without a leading "经营范围：" label."""
    key = company_key("" if name is None else str(name))
    scope = "" if text is None else str(text).strip()
    return key, scope.removeprefix(SCOPE_PREFIX)


def structure_features(names: Sequence[str], scopes: Sequence[str], capitals: Sequence[object] | None = None) -> np.ndarray:
    """(n, len(STRUCTURE_FEATURES)) raw structural features of names and scopes (unstandardised); capital_log is
    NaN where the registered capital is missing or unreadable (`matcher.text.capital`), everywhere without
    `capitals`."""
    capitals = [None] * len(names) if capitals is None else capitals
    rows = []
    for name, scope, capital in zip(names, scopes, capitals):
        items = [t for t in _ITEM_SPLIT.split(scope) if t.strip()]
        rows.append([np.log1p(len(scope)), np.log1p(len(items)), *(float(test(name, scope)) for _, test in _CUES),
                     float(len(name)), np.log1p(registered_capital(capital))])
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


def _split_profiles(names: Sequence[object], texts: Sequence[object]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(company keys, business scopes) of enterprise records (see `profile_parts`)."""
    return tuple(zip(*(profile_parts(n, t) for n, t in zip(names, texts)))) if len(names) else ((), ())


def _profiles(keys: Sequence[str], scopes: Sequence[str]) -> list[str]:
    """The name + scope text whose n-grams the members read."""
    return [f"{k}。{s}" for k, s in zip(keys, scopes)]


@dataclass
class _Member:
    """One logistic regression over the n-grams and structural cues of a profile.

    `features` names the structural features it reads (a subset of STRUCTURE_FEATURES: older models lack the
    capital); a missing value (NaN) is standardised to 0, the training average.
    """

    names: _Ngrams
    texts: _Ngrams
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    features: tuple[str, ...] = STRUCTURE_FEATURES

    def _features(self, keys: Sequence[str], scopes: Sequence[str], capitals: Sequence[object] | None) -> sp.csr_matrix:
        columns = [STRUCTURE_FEATURES.index(f) for f in self.features]
        structure = (structure_features(keys, scopes, capitals)[:, columns] - self.mean) / self.scale
        structure[np.isnan(structure)] = 0.0
        return sp.hstack([self.names.transform(keys), self.texts.transform(_profiles(keys, scopes)),
                          sp.csr_matrix(structure)]).tocsr()

    @classmethod
    def fit(cls, keys: Sequence[str], scopes: Sequence[str], capitals: Sequence[object] | None, y: np.ndarray, c: float,
            min_df: int) -> _Member:
        structure = structure_features(keys, scopes, capitals)
        known = ~np.isnan(structure)
        counts = known.sum(axis=0)
        mean = np.where(known, structure, 0.0).sum(axis=0) / np.maximum(counts, 1)
        scale = np.sqrt(np.where(known, (structure - mean) ** 2, 0.0).sum(axis=0) / np.maximum(counts, 1))
        scale[scale == 0] = 1.0  # constant or never known (no capitals given): the column is 0 for everyone
        member = cls(_Ngrams.fit(keys, (1, 2), max(1, min_df - 2)),
                     _Ngrams.fit(_profiles(keys, scopes), (1, 2), min_df), mean, scale, np.zeros(0), 0.0)
        lr = LogisticRegression(C=c, max_iter=3000, class_weight="balanced").fit(member._features(keys, scopes, capitals), y)
        member.coef, member.intercept = lr.coef_[0].astype(np.float64), float(lr.intercept_[0])
        return member

    def log_odds(self, keys: Sequence[str], scopes: Sequence[str], capitals: Sequence[object] | None) -> np.ndarray:
        return self._features(keys, scopes, capitals) @ self.coef + self.intercept


def percentile_ranks(log_odds: np.ndarray) -> np.ndarray:
    """Each finite value's share of the finite values below it (ties share), in [0, 1); NaN stays NaN."""
    out = np.full(len(log_odds), np.nan)
    known = np.flatnonzero(~np.isnan(log_odds))
    if len(known):
        out[known] = (rankdata(log_odds[known], method="average") - 1.0) / len(known)
    return out


def fold_of(key: str, folds: int) -> int:
    """The member that scores an enterprise: a salted hash of its company key (independent of the benchmark
    folds of matcher.lab.folds.company_fold)."""
    return zlib.crc32(f"activity:{key}".encode("utf-8")) % folds


class ActivityModel:
    """Scores enterprise profiles by how patent-active they look (log-odds of filing patents), cross-fitted.

    The enterprises are split into `folds` by a salted hash of the name; member f is trained on every labelled
    enterprise outside fold f and scores the enterprises of fold f, whether they were labelled or not. So no
    enterprise is ever scored by a model that learned its label, and a labelled enterprise is scored exactly like
    an unlabelled one: which enterprises were left out of training (e.g. the possible answers of a held-out
    benchmark) cannot change how they are scored. Build one with `fit`, or `load` a saved one; `percentiles` is
    what the engine ranks with.

    Args:
        members: one model per fold.
        card: what the model was trained on and how well it did (written to the model card).
    """

    def __init__(self, members: Sequence[_Member], card: dict | None = None) -> None:
        self.members = list(members)
        self.card = dict(card or {})

    @classmethod
    def fit(cls, names: Sequence[object], texts: Sequence[object], labels: Sequence[bool], *,
            capitals: Sequence[object] | None = None, c: float = 0.3, min_df: int = 5, folds: int = 5,
            card: dict | None = None) -> ActivityModel:
        """Fit one member per fold on labelled enterprise profiles.

        Args:
            names: enterprise names.
            texts: their profile texts (business scope or description).
            labels: True for enterprises that file patents.
            capitals: their registered capital as written in the records ("500(万元人民币)"; "" or None where
                unknown); None: unknown for all.
            c: inverse L2 regularisation strength of the logistic regressions.
            min_df: an n-gram of the profile texts must occur in this many profiles (names: min_df - 2, at least 1).
            folds: members (>= 2).
            card: extra facts for the model card (data source, counts).

        Raises:
            MatcherError: the lengths differ, or some member would lack positives or negatives to learn from.
        """
        y = np.asarray(labels, dtype=bool)
        if not (len(names) == len(texts) == len(y)) or (capitals is not None and len(capitals) != len(y)):
            raise MatcherError(f"activity model: {len(names)} names, {len(texts)} texts, {len(y)} labels"
                               f"{'' if capitals is None else f' and {len(capitals)} capitals'} differ in number")
        keys, scopes = _split_profiles(names, texts)
        fold = np.array([fold_of(k, folds) for k in keys], dtype=np.int64)
        members = []
        for f in range(folds):
            train = np.flatnonzero(fold != f)
            if len(set(y[train].tolist())) < 2:
                raise MatcherError(f"activity model: the labels need both patent-filing and other enterprises in every "
                                   f"training split ({int(y.sum())} patent-filing of {len(y)}): label more enterprises")
            members.append(_Member.fit([keys[i] for i in train], [scopes[i] for i in train],
                                       None if capitals is None else [capitals[i] for i in train], y[train], c, min_df))
        known = 0 if capitals is None else int(np.isfinite([registered_capital(v) for v in capitals]).sum())
        model = cls(members, {"c": c, "min_df": min_df, "folds": folds, "positives": int(y.sum()), "enterprises": int(len(y)),
                              "with_capital": known, **(card or {})})
        if len(set(y.tolist())) == 2:  # every enterprise is scored by the member that did not learn it
            model.card["cross_validated_auc"] = round(float(roc_auc_score(y, model.log_odds(names, texts, capitals))), 4)
        return model

    def log_odds(self, names: Sequence[object], texts: Sequence[object], capitals: Sequence[object] | None = None) -> np.ndarray:
        """Each enterprise's log-odds of filing patents, from the member of its fold (capitals: as in `fit`)."""
        out = np.zeros(len(names))
        if len(names) == 0:
            return out
        keys, scopes = _split_profiles(names, texts)
        fold = np.array([fold_of(k, len(self.members)) for k in keys])
        for f, member in enumerate(self.members):
            rows = np.flatnonzero(fold == f)
            if len(rows):
                out[rows] = member.log_odds([keys[i] for i in rows], [scopes[i] for i in rows],
                                            None if capitals is None else [capitals[i] for i in rows])
        return out

    def percentiles(self, names: Sequence[object], texts: Sequence[object], capitals: Sequence[object] | None = None) -> np.ndarray:
        """Each organisation's share of the given organisations that look less patent-active (ties share), in
        [0, 1); NaN for records that are not organisations (a demand's title and text are not a company profile,
        so the model has nothing to say about them; see `is_organisation_name`)."""
        return percentile_ranks(self.organisation_log_odds(names, texts, capitals))

    def organisation_log_odds(self, names: Sequence[object], texts: Sequence[object],
                              capitals: Sequence[object] | None = None) -> np.ndarray:
        """`log_odds` of the records that are organisations, NaN for the others (see `percentiles`). A record's
        value depends on its own name, text and capital only, never on the other records given with it."""
        out = np.full(len(names), np.nan)
        companies = np.flatnonzero([is_organisation_name(None if n is None else str(n)) for n in names])
        if len(companies):
            out[companies] = self.log_odds([names[i] for i in companies], [texts[i] for i in companies],
                                           None if capitals is None else [capitals[i] for i in companies])
        return out

    def top_terms(self, k: int = 20) -> list[tuple[str, float]]:
        """The name / profile n-grams and structural features with the largest mean weight over the members."""
        weights: dict[str, list[float]] = {}
        for m in self.members:
            labels = ([f"name:{g}" for g, _ in sorted(m.names.vocabulary.items(), key=lambda kv: kv[1])]
                      + [f"text:{g}" for g, _ in sorted(m.texts.vocabulary.items(), key=lambda kv: kv[1])]
                      + [f"feature:{f}" for f in m.features])
            for label, w in zip(labels, m.coef):
                weights.setdefault(label, []).append(float(w))
        mean = {label: sum(ws) / len(self.members) for label, ws in weights.items()}  # absent in a member: weight 0
        return [(label, round(w, 3)) for label, w in sorted(mean.items(), key=lambda kv: -kv[1])[:k]]

    def save(self, directory: str | Path) -> Path:
        """Write the model directory atomically (a failed save leaves the previous model in place)."""
        directory = Path(directory)
        features = {m.features for m in self.members}
        if len(features) != 1:
            raise MatcherError("activity model: its members read different structural features")
        config = {"format": FORMAT if features == {STRUCTURE_FEATURES} else READABLE_FORMATS[0],
                  "structure_features": list(features.pop()), "card": self.card,
                  "members": [{"name_ngrams": list(m.names.ngram_range), "text_ngrams": list(m.texts.ngram_range),
                               "name_vocabulary": m.names.vocabulary, "text_vocabulary": m.texts.vocabulary}
                              for m in self.members]}
        arrays = {}
        for i, m in enumerate(self.members):
            arrays.update({f"{i}_name_idf": m.names.idf, f"{i}_text_idf": m.texts.idf, f"{i}_mean": m.mean,
                           f"{i}_scale": m.scale, f"{i}_coef": m.coef, f"{i}_intercept": np.array([m.intercept])})
        with atomic_dir(directory) as tmp:
            (tmp / CONFIG_FILE).write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
            np.savez(tmp / WEIGHTS_FILE, **arrays)
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
        features = tuple(config.get("structure_features", ()))
        if config.get("format") not in READABLE_FORMATS or not features or not set(features) <= set(STRUCTURE_FEATURES):
            raise MatcherError(f"{directory} holds an activity model of another format "
                               f"({config.get('format')!r}, expected {FORMAT!r}): train it again")
        try:
            members = [_Member(_Ngrams(m["name_vocabulary"], weights[f"{i}_name_idf"], tuple(m["name_ngrams"])),
                               _Ngrams(m["text_vocabulary"], weights[f"{i}_text_idf"], tuple(m["text_ngrams"])),
                               weights[f"{i}_mean"], weights[f"{i}_scale"], weights[f"{i}_coef"],
                               float(weights[f"{i}_intercept"][0]), features)
                       for i, m in enumerate(config["members"])]
        except (KeyError, TypeError) as exc:
            raise MatcherError(f"activity model at {directory} is incomplete (missing {exc}): train it again") from None
        return cls(members, config.get("card"))


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
