"""Match confidence: the calibrated chance that a ranked demand -> patent pair is judged related or better."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from matcher.errors import MatcherError
from matcher.results import Match, direction_of

COMPONENTS = ("dense", "bm25", "phrase", "items", "portfolio", "reciprocal")
"""The component scores used as features (0 where a direction has no such signal)."""

FEATURES = ("score", "inv_rank", "margin_next", "margin_mean", "top1", "spread", *(f"c_{c}" for c in COMPONENTS),
            "c_dense_gap", "shared_terms", "shared_idf", "shared_idf_share", "query_terms")
"""The names of the columns of `pair_features`, in order."""

LIST_DEPTH = 10
"""The list-level features (mean, spread, best dense score) look at this many first matches, as when fitted, so a
match's features do not depend on how deep the list was ranked."""

MIN_TERM_CHARS = 2
"""Shared terms shorter than this are not informative (single characters such as 混, 共)."""

MIN_TERM_IDF = 1.0
"""Shared terms with a lower IDF in the ranked collection (words most records hold) are not informative."""

SHIPPED = Path(__file__).resolve().parent / "resources" / "confidence-d2p.json"
"""The model fitted on the judged demand -> patent dev split (`matcher lab judged calibrate`), used by default."""

SUITABLE = "有合适专利"
RELATED_ONLY = "仅有相关专利"
NONE_FOUND = "未找到合适专利"


def informative_shared(query_terms: Sequence[str], doc_terms: Sequence[str], idf: Mapping[str, float]) -> list[str]:
    """The informative terms a query and a record share: two characters or more and an IDF of `MIN_TERM_IDF` or more.

    Args:
        query_terms: the query's BM25 terms.
        doc_terms: the record's terms.
        idf: term -> IDF in the ranked collection (unknown terms count 0).

    Returns:
        The shared terms, sorted.
    """
    common = set(query_terms) & set(doc_terms)
    return sorted(t for t in common if len(t) >= MIN_TERM_CHARS and idf.get(t, 0.0) >= MIN_TERM_IDF)


def pair_features(matches: Sequence[Match], query_terms: Sequence[str], doc_terms: Sequence[Sequence[str]],
                  idf: Mapping[str, float]) -> np.ndarray:
    """The confidence features of every match of one ranked list (columns named by `FEATURES`).

    Per match: fused score, 1 / rank, margin to the next match and to the list's mean, each component score and the
    dense score's gap to the list's best (mean and best over the first `LIST_DEPTH` matches), number and IDF mass of the informative shared terms (and that mass as a
    share of the query's), the query's length in terms; per list: top-1 score and spread (top-1 minus mean).

    Args:
        matches: the ranked list, best first (`score`, `rank`, `components` are read).
        query_terms: the query's BM25 terms.
        doc_terms: each match's record terms, in order.
        idf: term -> IDF in the ranked collection.

    Returns:
        A float array (len(matches), len(FEATURES)); deterministic for the same input.
    """
    n = len(matches)
    out = np.zeros((n, len(FEATURES)), dtype=np.float64)
    if n == 0:
        return out
    scores = np.array([float(m.score) for m in matches])
    mean = float(scores[:LIST_DEPTH].mean())
    dense = np.array([float(m.components.get("dense", 0.0)) for m in matches])
    best_dense = float(dense[:LIST_DEPTH].max())
    query_set = {t for t in set(query_terms) if len(t) >= MIN_TERM_CHARS}
    query_mass = sum(idf.get(t, 0.0) for t in query_set if idf.get(t, 0.0) >= MIN_TERM_IDF)
    for i, m in enumerate(matches):
        shared = informative_shared(query_terms, doc_terms[i], idf)
        mass = sum(idf.get(t, 0.0) for t in shared)
        nxt = scores[i + 1] if i + 1 < n else scores[i]
        out[i] = [scores[i], 1.0 / max(int(m.rank), 1), scores[i] - nxt, scores[i] - mean, scores[0], scores[0] - mean,
                  *(float(m.components.get(c, 0.0)) for c in COMPONENTS), dense[i] - best_dense,
                  len(shared), mass, mass / query_mass if query_mass > 0 else 0.0, math.log1p(len(query_set))]
    return out


@dataclass
class DirectionModel:
    """The fitted calibration of one direction: standardisation, logistic coefficients, an optional isotonic map
    of the logistic output, and the verdict thresholds.

    Attributes:
        mean: per-feature mean of the training pairs.
        scale: per-feature standard deviation (1 where constant).
        coef: logistic coefficients on the standardised features.
        intercept: logistic intercept.
        iso_x: isotonic knots (logistic probabilities), empty for plain logistic.
        iso_y: isotonic values at the knots.
        threshold: pairs with a lower confidence are not shown as confident.
        strong: a list whose best pair reaches this confidence gets 有合适专利.
    """

    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    iso_x: list[float] = field(default_factory=list)
    iso_y: list[float] = field(default_factory=list)
    threshold: float = 0.5
    strong: float = 1.01

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The confidence of each row of `x` (features in `FEATURES` order)."""
        z = (np.asarray(x, dtype=np.float64) - np.array(self.mean)) / np.array(self.scale)
        p = 1.0 / (1.0 + np.exp(-(z @ np.array(self.coef) + self.intercept)))
        if self.iso_x:
            p = np.interp(p, self.iso_x, self.iso_y)
        return np.clip(p, 0.0, 1.0)


CORE = ("score", "inv_rank", "top1", "c_dense", "c_bm25", "shared_idf_share")
"""A smaller feature set the lab may choose on dev (the other features get coefficient 0)."""


def fit_direction(x: np.ndarray, y: np.ndarray, *, isotonic: bool = False, c: float = 1.0,
                  features: Sequence[str] | None = None) -> DirectionModel:
    """Fit one direction's calibration: logistic regression on standardised features, optionally mapped by isotonic
    regression fitted on the logistic output.

    Args:
        x: features (n, len(FEATURES)).
        y: 1 = judged related or better, 0 = unrelated.
        isotonic: add the isotonic map.
        c: inverse L2 regularisation strength.
        features: the features used (None: all of `FEATURES`); the others get coefficient 0.

    Returns:
        The model (thresholds left at their defaults; set them with `choose_threshold`).

    Raises:
        MatcherError: the labels hold a single class.
    """
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(y, dtype=int)
    if len(set(y.tolist())) < 2:
        raise MatcherError("cannot fit a confidence model: the training pairs are all related or all unrelated")
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    used = [FEATURES.index(f) for f in (features or FEATURES)]
    lr = LogisticRegression(C=c, max_iter=2000).fit(((x - mean) / scale)[:, used], y)
    coef = np.zeros(len(FEATURES))
    coef[used] = lr.coef_[0]
    model = DirectionModel(mean.tolist(), scale.tolist(), coef.tolist(), float(lr.intercept_[0]))
    if isotonic:
        p = model.predict(x)
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(p, y)
        model.iso_x, model.iso_y = iso.X_thresholds_.tolist(), iso.y_thresholds_.tolist()
    return model


def precision_retention(conf: np.ndarray, y: np.ndarray, threshold: float) -> tuple[float, float, int]:
    """Among pairs at or above `threshold`: the share judged related (precision), the share of all related pairs kept
    (retention), and how many pairs are shown.

    Args:
        conf: pair confidences.
        y: 1 = related or better.
        threshold: the cut.

    Returns:
        (precision, retention, shown); precision 0 when nothing is shown, retention 1 when nothing is related.
    """
    shown = conf >= threshold
    hits = int((shown & (y == 1)).sum())
    return (hits / int(shown.sum()) if shown.any() else 0.0), (hits / int(y.sum()) if y.sum() else 1.0), int(shown.sum())


def choose_threshold(conf: np.ndarray, y: np.ndarray, min_retention: float = 0.8) -> float:
    """The highest cut that keeps at least `min_retention` of the related pairs (the best precision at that
    retention).

    Args:
        conf: pair confidences (dev).
        y: 1 = related or better.
        min_retention: the share of related pairs to keep.

    Returns:
        The threshold (0.0 when there is nothing related).
    """
    pos = np.sort(np.asarray(conf)[np.asarray(y) == 1])[::-1]
    if len(pos) == 0:
        return 0.0
    need = max(1, math.ceil(min_retention * len(pos)))
    return float(pos[need - 1])


def verdict(confidences: Sequence[float], threshold: float, strong: float) -> str:
    """A query's verdict from its pairs' confidences.

    Args:
        confidences: the confidence of each pair of the list.
        threshold: the confident-pair cut.
        strong: the cut for a suitable patent.

    Returns:
        有合适专利 when the best pair reaches `strong`, 仅有相关专利 when it reaches `threshold`, else 未找到合适专利.
    """
    best = max(confidences, default=0.0)
    if best >= strong:
        return SUITABLE
    return RELATED_ONLY if best >= threshold else NONE_FOUND


class ConfidenceModel:
    """The calibrated pair confidence, one `DirectionModel` per direction ("text->patent", "enterprise->patent"),
    saved as a small JSON file with its training card.

    Args:
        directions: direction value -> its model.
        card: the training card (data, date, metrics).
    """

    def __init__(self, directions: Mapping[str, DirectionModel] | None = None, card: Mapping | None = None) -> None:
        self.directions: dict[str, DirectionModel] = dict(directions or {})
        self.card: dict = dict(card or {})

    def fit(self, direction: str, x: np.ndarray, y: np.ndarray, **kwargs) -> DirectionModel:
        """Fit one direction (see `fit_direction`) and keep it."""
        self.directions[direction] = fit_direction(x, y, **kwargs)
        return self.directions[direction]

    def has(self, direction: str) -> bool:
        """Whether the model covers a direction."""
        return str(direction) in self.directions

    def predict_proba(self, direction: str, x: np.ndarray) -> np.ndarray:
        """The confidence (0-1) of each row of `x` in one direction.

        Raises:
            MatcherError: the model has no such direction.
        """
        if not self.has(direction):
            raise MatcherError(f"the confidence model has no {direction} calibration")
        return self.directions[str(direction)].predict(x)

    def verdict(self, direction: str, confidences: Sequence[float]) -> str:
        """A list's verdict with the direction's thresholds (see `verdict`)."""
        m = self.directions[str(direction)]
        return verdict(confidences, m.threshold, m.strong)

    def threshold(self, direction: str) -> float:
        """The confident-pair cut of a direction."""
        return self.directions[str(direction)].threshold

    def save(self, path: str | Path) -> None:
        """Write the model as JSON (features, per-direction coefficients, scaling, thresholds, the card)."""
        data = {"features": list(FEATURES), "card": self.card,
                "directions": {d: m.__dict__ for d, m in self.directions.items()}}
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def for_config(cls, config) -> ConfidenceModel | None:
        """The model a configuration names (`MatcherConfig.confidence_model`), when it was fitted with the
        configuration's encoder (its scores mean something else under another encoder).

        Args:
            config: a MatcherConfig.

        Returns:
            The model, or None (no model named, the shipped default absent, or another encoder). An index saved in
            another checkout names the shipped model by that checkout's path: this checkout's copy is read.

        Raises:
            MatcherError: a named model cannot be read.
        """
        path = getattr(config, "confidence_model", None)
        if path is None:
            return None
        if Path(path).name == SHIPPED.name and not Path(path).is_file():  # the shipped model, saved from another checkout
            if not SHIPPED.is_file():
                return None
            path = SHIPPED
        model = cls.load(path)
        return model if model.card.get("encoder", config.encoder) == config.encoder else None

    @classmethod
    def load(cls, path: str | Path) -> ConfidenceModel:
        """Read a model written by `save`.

        Raises:
            MatcherError: the file is missing, not JSON, or built for other features.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if data.get("features") != list(FEATURES):
                raise ValueError("it was fitted on other features; fit it again (matcher lab judged calibrate)")
            return cls({d: DirectionModel(**m) for d, m in data["directions"].items()}, data.get("card"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise MatcherError(f"cannot read the confidence model {path}: {exc}") from None


def attach(results: Sequence, features: Sequence[np.ndarray], model: ConfidenceModel) -> None:
    """Set `Match.confidence` and `SearchResult.verdict` of every result whose direction the model covers; the order
    of the matches is never changed.

    Args:
        results: search results (matcher.results.SearchResult).
        features: each result's `pair_features`, in order.
        model: the confidence model.
    """
    for res, x in zip(results, features):
        direction = direction_of(res.query.kind, res.target).value
        if not model.has(direction) or not res.matches:
            continue
        conf = model.predict_proba(direction, x)
        for m, p in zip(res.matches, conf):
            m.confidence = round(float(p), 4)
        res.verdict = model.verdict(direction, conf.tolist())
