"""Held-out evaluation of the grading models: accuracy, macro-F1, the majority baseline and calibration."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

from matcher.grading.models import fit_maturity, fit_sectors
from matcher.sectors.classifier import TextClassifier
from matcher.sectors.model import DIVISION_SEP

TEST_SIZE = 0.2
SEED = 42
ECE_BINS = 15


@dataclass
class TaskScores:
    """One task's held-out scores.

    Attributes:
        task: maturity, sector (门类) or sector_division (门类——大类).
        train, test: example counts.
        accuracy, macro_f1: the model's.
        majority_accuracy, majority_macro_f1: always predicting the training split's most frequent label.
        majority_label: that label.
        calibration: ECE and Brier of the top label before ("raw") and after temperature scaling ("calibrated").
    """

    task: str
    train: int
    test: int
    accuracy: float
    macro_f1: float
    majority_accuracy: float
    majority_macro_f1: float
    majority_label: str
    calibration: dict[str, dict[str, float]] = field(default_factory=dict)

    def summary(self) -> dict[str, float]:
        """The four numbers of the `matcher grade --evaluate` JSON line."""
        return {k: round(getattr(self, k), 4) for k in ("accuracy", "macro_f1", "majority_accuracy", "majority_macro_f1")}


def _split(labels: Sequence[str], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A stratified train / test split of positions (labels seen fewer than twice are stratified together)."""
    y = np.asarray(labels)
    counts = Counter(y)
    strata = np.asarray([v if counts[v] >= 2 else "_rare" for v in y])
    if Counter(strata)["_rare"] == 1:
        strata[strata == "_rare"] = Counter(y).most_common(1)[0][0]
    return train_test_split(np.arange(len(y)), test_size=TEST_SIZE, random_state=seed, stratify=strata)


def calibration(proba: np.ndarray, classes: Sequence[str], truth: Sequence[str], bins: int = ECE_BINS) -> dict[str, float]:
    """Expected calibration error of the top label (equal-width bins) and the multiclass Brier score.

    Args:
        proba: predicted probabilities, one row per example, columns in `classes` order.
        classes: the labels of the columns.
        truth: the true labels.
        bins: ECE bins.

    Returns:
        {"ece": ..., "brier": ...}.
    """
    truth = np.asarray(truth)
    top = proba.argmax(axis=1)
    confidence = proba[np.arange(len(top)), top]
    correct = np.asarray(classes)[top] == truth
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    ece = sum(abs(correct[which == b].mean() - confidence[which == b].mean()) * (which == b).mean()
              for b in range(bins) if (which == b).any())
    onehot = (np.asarray(classes)[None, :] == truth[:, None]).astype(float)
    return {"ece": float(ece), "brier": float(((proba - onehot) ** 2).sum(axis=1).mean())}


def _scores(task: str, train_labels: Sequence[str], truth: Sequence[str], predicted: Sequence[str],
            calib: dict[str, dict[str, float]] | None = None) -> TaskScores:
    majority = Counter(train_labels).most_common(1)[0][0]
    baseline = [majority] * len(truth)
    return TaskScores(task, len(train_labels), len(truth), accuracy_score(truth, predicted),
                      f1_score(truth, predicted, average="macro", zero_division=0),
                      accuracy_score(truth, baseline), f1_score(truth, baseline, average="macro", zero_division=0),
                      majority, calib or {})


def _calibrations(model: TextClassifier, tokens: Sequence[Sequence[str]], truth: Sequence[str]) -> dict[str, dict[str, float]]:
    calibrated = calibration(model.predict_proba(tokens), model.classes, truth)
    temperature, model.temperature = model.temperature, 1.0
    raw = calibration(model.predict_proba(tokens), model.classes, truth)
    model.temperature = temperature
    return {"raw": raw, "calibrated": calibrated}


def evaluate(offers: pd.DataFrame, demands: pd.DataFrame | None = None, *, seed: int = SEED,
             tokens: Sequence[Sequence[str]] | None = None) -> list[TaskScores]:
    """Train on a stratified 80 % of the labelled examples and score on the other 20 % (fixed seed).

    Maturity: the offers with a maturity label. 门类: offers and demands with one 门类 (stratified by 门类).
    大类: the offers of that 门类 split (the 门类——大类 pair predicted by the sector model must be right).

    Args:
        offers: matcher.grading.labelled.labelled_offers.
        demands: matcher.grading.labelled.labelled_demands (None: offers only).
        seed: the split's and the calibration folds' seed.
        tokens: token lists of offers then demands, when already segmented.

    Returns:
        Scores of maturity, sector and sector_division.
    """
    examples = pd.concat([offers, demands], ignore_index=True) if demands is not None else offers.reset_index(drop=True)
    tokens = list(tokens) if tokens is not None else TextClassifier.tokens(examples["text"].tolist())
    results = []

    rows = np.flatnonzero(examples["maturity"].ne("").to_numpy())
    labels = examples["maturity"].to_numpy()[rows]
    train, test = _split(labels, seed)
    model = fit_maturity([tokens[rows[i]] for i in train], labels[train].tolist(), seed)
    test_tokens = [tokens[rows[i]] for i in test]
    predicted, _ = model.predict(test_tokens)
    results.append(_scores("maturity", labels[train].tolist(), labels[test].tolist(), predicted,
                           _calibrations(model, test_tokens, labels[test].tolist())))

    rows = np.flatnonzero(examples["section"].ne("").to_numpy())
    sections, divisions = examples["section"].to_numpy()[rows], examples["division"].to_numpy()[rows]
    train, test = _split(sections, seed)
    sectors = fit_sectors([tokens[rows[i]] for i in train], sections[train].tolist(), divisions[train].tolist(), seed)
    test_tokens = [tokens[rows[i]] for i in test]
    found = sectors.predict(test_tokens)
    results.append(_scores("sector", sections[train].tolist(), sections[test].tolist(), found["section"].tolist(),
                           _calibrations(sectors.section, test_tokens, sections[test].tolist())))
    with_division = [j for j, i in enumerate(test) if divisions[i]]
    if with_division and sectors.division is not None:
        truth = [f"{sections[test[j]]}{DIVISION_SEP}{divisions[test[j]]}" for j in with_division]
        guess = [f"{found['section'].iat[j]}{DIVISION_SEP}{found['division'].iat[j]}" for j in with_division]
        train_pairs = [f"{sections[i]}{DIVISION_SEP}{divisions[i]}" for i in train if divisions[i]]
        results.append(_scores("sector_division", train_pairs, truth, guess))
    return results
