"""A calibrated text classifier: TF-IDF over jieba tokens, logistic regression, temperature scaling.

The sector and maturity models are instances of it. It is stored without pickle (vocabulary, idf and card as JSON,
weights as .npz), like the activity model (matcher.rank.activity).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from matcher.errors import MatcherError
from matcher.index.atomic import atomic_dir
from matcher.text.segment import Segmenter

CONFIG_FILE = "classifier.json"
WEIGHTS_FILE = "weights.npz"


def _identity(tokens: Sequence[str]) -> Sequence[str]:
    """The analyzer of pre-segmented texts."""
    return tokens


class TextClassifier:
    """Predicts a label and its calibrated probability from a Chinese text.

    Args:
        vectorizer: a fitted TfidfVectorizer over token lists.
        model: a fitted multinomial LogisticRegression.
        temperature: the calibration temperature (probabilities are softmax(logits / temperature)).
        card: what the model was trained on and how well it did (stored with it).
    """

    def __init__(self, vectorizer: TfidfVectorizer, model: LogisticRegression, temperature: float = 1.0,
                 card: dict | None = None) -> None:
        self.vectorizer = vectorizer
        self.model = model
        self.temperature = float(temperature)
        self.card = dict(card or {})
        self._segmenter: Segmenter | None = None

    @property
    def classes(self) -> list[str]:
        """The labels, in the order of the probability columns."""
        return [str(c) for c in self.model.classes_]

    @staticmethod
    def tokens(texts: Sequence[str], segmenter: Segmenter | None = None) -> list[list[str]]:
        """jieba tokens (accurate mode, stopwords removed) of each text.

        Args:
            texts: raw texts.
            segmenter: the segmenter (default: the bundled dictionary and stopwords, accurate mode).

        Returns:
            One token list per text.
        """
        segmenter = segmenter or Segmenter("accurate")
        return [segmenter.tokens(str(t or "")) for t in texts]

    @classmethod
    def fit(cls, tokens: Sequence[Sequence[str]], labels: Sequence[str], *, c: float = 4.0, seed: int = 0,
            calibrate: bool = True, card: dict | None = None) -> TextClassifier:
        """Fit TF-IDF and the logistic regression; choose the temperature on out-of-fold predictions.

        Args:
            tokens: token lists (see `tokens`).
            labels: one label per text (at least two distinct ones).
            c: inverse regularisation strength of the logistic regression.
            seed: the seed of the calibration folds.
            calibrate: fit the temperature (3-fold out-of-fold log-loss); else temperature 1.
            card: facts to store with the model.

        Returns:
            The fitted classifier.

        Raises:
            MatcherError: fewer than two labels.
        """
        y = np.asarray([str(v) for v in labels])
        if len(set(y)) < 2:
            raise MatcherError(f"cannot train a classifier on {len(set(y))} label(s): give texts of at least two labels")
        temperature = cls._temperature(tokens, y, c, seed) if calibrate else 1.0
        vectorizer, model = cls._fit_core(tokens, y, c)
        info = {"texts": int(len(y)), "labels": {k: int(v) for k, v in zip(*np.unique(y, return_counts=True))},
                "c": c, "temperature": temperature, **(card or {})}
        return cls(vectorizer, model, temperature, info)

    @staticmethod
    def _fit_core(tokens: Sequence[Sequence[str]], y: np.ndarray, c: float) -> tuple[TfidfVectorizer, LogisticRegression]:
        vectorizer = TfidfVectorizer(analyzer=_identity, min_df=2, sublinear_tf=True, dtype=np.float32)
        x = vectorizer.fit_transform(tokens)
        model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced").fit(x, y)
        return vectorizer, model

    @classmethod
    def _temperature(cls, tokens: Sequence[Sequence[str]], y: np.ndarray, c: float, seed: int) -> float:
        """The temperature minimising the out-of-fold log-loss (3 stratified folds; rare labels stay in training)."""
        labels, counts = np.unique(y, return_counts=True)
        strata = np.where(np.isin(y, labels[counts < 3]), "_rare", y)
        logits = np.full((len(y), len(labels)), -30.0)
        with warnings.catch_warnings():  # a label with 2 examples cannot be in all 3 folds: expected, not a problem
            warnings.simplefilter("ignore", UserWarning)
            folds = list(StratifiedKFold(3, shuffle=True, random_state=seed).split(y, strata))
        for train, test in folds:
            if len(set(y[train])) < 2:
                continue
            vectorizer, model = cls._fit_core([tokens[i] for i in train], y[train], c)
            proba = model.predict_proba(vectorizer.transform([tokens[i] for i in test]))
            cols = np.searchsorted(labels, model.classes_)
            logits[np.ix_(test, cols)] = np.log(np.clip(proba, 1e-12, 1.0))
        target = np.searchsorted(labels, y)

        def loss(t: float) -> float:
            return float(-log_softmax(logits / t, axis=1)[np.arange(len(y)), target].mean())

        return float(minimize_scalar(loss, bounds=(0.2, 5.0), method="bounded").x)

    def predict_proba(self, tokens: Sequence[Sequence[str]]) -> np.ndarray:
        """Calibrated probabilities, one row per text, columns in `classes` order."""
        if not len(tokens):
            return np.zeros((0, len(self.classes)))
        proba = self.model.predict_proba(self.vectorizer.transform(tokens))
        return np.exp(log_softmax(np.log(np.clip(proba, 1e-12, 1.0)) / self.temperature, axis=1))

    def predict(self, tokens: Sequence[Sequence[str]]) -> tuple[list[str], np.ndarray]:
        """The most probable label of each text and its calibrated probability."""
        proba = self.predict_proba(tokens)
        best = proba.argmax(axis=1) if len(proba) else np.zeros(0, dtype=int)
        return [self.classes[i] for i in best], proba[np.arange(len(best)), best]

    def save(self, directory: str | Path) -> Path:
        """Write the classifier into `directory` atomically (JSON and .npz, no pickle).

        Returns:
            The directory.
        """
        directory = Path(directory)
        config = {"vocabulary": {t: int(i) for t, i in self.vectorizer.vocabulary_.items()},
                  "classes": self.classes, "temperature": self.temperature, "card": self.card}
        with atomic_dir(directory) as tmp:
            (tmp / CONFIG_FILE).write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
            np.savez_compressed(tmp / WEIGHTS_FILE, idf=self.vectorizer.idf_.astype(np.float32),
                                coef=self.model.coef_.astype(np.float32),
                                intercept=self.model.intercept_.astype(np.float32))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> TextClassifier:
        """Read a classifier written by `save`.

        Raises:
            MatcherError: the folder holds no classifier or a damaged one.
        """
        directory = Path(directory)
        try:
            config = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
            with np.load(directory / WEIGHTS_FILE) as weights:
                idf, coef, intercept = weights["idf"], weights["coef"], weights["intercept"]
        except (OSError, ValueError, KeyError) as exc:
            raise MatcherError(f"no readable model at {directory} ({exc}): train it with `matcher grade`") from None
        vectorizer = TfidfVectorizer(analyzer=_identity, vocabulary=config["vocabulary"], sublinear_tf=True,
                                     dtype=np.float32)
        vectorizer.idf_ = idf
        model = LogisticRegression()
        model.classes_ = np.asarray(config["classes"])
        model.coef_, model.intercept_ = coef.astype(np.float64), intercept.astype(np.float64)
        return cls(vectorizer, model, config["temperature"], config.get("card"))
