"""Learning to rank from outcomes: a logistic fit over the engine's signals that replaces the default order only when
it ranks a held-out slice of the outcomes better."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from matcher.errors import MatcherError
from matcher.tracking import LICENSED, NEGOTIATING, REPLIED, TRANSFERRED

FEATURES = ("inv_rank", "score", "dense", "bm25", "items")
"""The signals of a pushed pair, as the outcome log records them."""
GOOD = (REPLIED, NEGOTIATING, LICENSED, TRANSFERRED)
MIN_MARGIN = 0.01
"""The fit replaces the default order only when its held-out ROC AUC beats the default's by at least this much."""
MIN_OUTCOMES = 50


def feature_matrix(log: pd.DataFrame) -> np.ndarray:
    """The FEATURES of each row of an outcome log (engine_rank gives inv_rank; missing signals are 0)."""
    cols = [1.0 / log["engine_rank"].clip(lower=1).astype(float)]
    cols += [log[c].astype(float).fillna(0.0) if c in log else pd.Series(0.0, index=log.index) for c in FEATURES[1:]]
    return np.column_stack(cols)


def labels(log: pd.DataFrame) -> np.ndarray:
    """1 when the firm replied or went further (已回复 / 洽谈中 / 已许可 / 已转让), else 0."""
    return log["status"].isin(GOOD).to_numpy(dtype=int)


@dataclass
class OutcomeModel:
    """A logistic model over FEATURES (standardised) and how it did against the default order on held-out weeks.

    Attributes:
        mean, scale, coef, intercept: the fitted model.
        auc_model: its ROC AUC on the held-out slice.
        auc_default: the default order's (1 / engine rank) ROC AUC on the same slice.
        wins: whether it beat the default by MIN_MARGIN (only then does `matcher outcomes apply` use it).
        card: what it was fitted on.
    """

    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    auc_model: float
    auc_default: float
    wins: bool
    card: dict = field(default_factory=dict)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The chance of a good outcome for each row of FEATURES."""
        z = (np.asarray(x, dtype=float) - np.array(self.mean)) / np.array(self.scale)
        return 1.0 / (1.0 + np.exp(-(z @ np.array(self.coef) + self.intercept)))

    def save(self, path: str | Path) -> None:
        """Write the model as JSON."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps({"features": list(FEATURES), **asdict(self)}, ensure_ascii=False, indent=1),
                              encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> OutcomeModel:
        """Read a model written by `save`.

        Raises:
            MatcherError: the file is missing or not such a model.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if data.pop("features") != list(FEATURES):
                raise ValueError("it was fitted on other features")
            return cls(**data)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise MatcherError(f"cannot read the outcome model {path}: {exc}; fit it again (matcher outcomes fit)") from None


def fit_outcomes(log: pd.DataFrame, *, held_out: float = 0.25, c: float = 1.0) -> OutcomeModel:
    """Fit on the earlier weeks of an outcome log and compare with the default order on the latest `held_out` share of
    weeks (a time split: the model is judged on outcomes that came after those it learnt from).

    Args:
        log: the outcome log (week, engine_rank, score, dense, bm25, items, status).
        held_out: the share of the latest weeks held out.
        c: inverse L2 regularisation strength.

    Returns:
        The model, refitted on every row, with the held-out comparison.

    Raises:
        MatcherError: too few outcomes, or one class only in a slice.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    if len(log) < MIN_OUTCOMES:
        raise MatcherError(f"learning to rank needs at least {MIN_OUTCOMES} outcomes (the log has {len(log)})")
    weeks = sorted(log["week"].unique()) if "week" in log else [0]
    cut = weeks[max(1, int(round(len(weeks) * (1 - held_out)))) - 1] if len(weeks) > 1 else None
    train = log[log["week"] <= cut] if cut is not None else log.iloc[: int(len(log) * (1 - held_out))]
    test = log.drop(train.index)
    y_train, y_test = labels(train), labels(test)
    if len(set(y_train)) < 2 or len(set(y_test)) < 2:
        raise MatcherError("the outcome log needs both good and bad outcomes in its earlier and its latest weeks")

    def fit(frame: pd.DataFrame, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, LogisticRegression]:
        x = feature_matrix(frame)
        mean, scale = x.mean(axis=0), x.std(axis=0)
        scale[scale == 0] = 1.0
        return mean, scale, LogisticRegression(C=c, max_iter=2000).fit((x - mean) / scale, y)

    mean, scale, lr = fit(train, y_train)
    p_test = lr.predict_proba((feature_matrix(test) - mean) / scale)[:, 1]
    auc_model = float(roc_auc_score(y_test, p_test))
    auc_default = float(roc_auc_score(y_test, 1.0 / test["engine_rank"].clip(lower=1).astype(float)))
    mean, scale, lr = fit(log, labels(log))
    return OutcomeModel(mean.tolist(), scale.tolist(), lr.coef_[0].tolist(), float(lr.intercept_[0]),
                        round(auc_model, 4), round(auc_default, 4), auc_model >= auc_default + MIN_MARGIN,
                        {"outcomes": len(log), "train": len(train), "held_out": len(test),
                         "held_out_weeks": [int(w) for w in weeks if cut is not None and w > cut],
                         "simulated": bool(log["simulated"].all()) if "simulated" in log else False})
