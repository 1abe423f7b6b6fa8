"""匹配度: a pair's calibrated confidence (matcher.rank.confidence) read the same way in every direction, 0-100.

The demand -> patent model (shipped in matcher/rank/resources/confidence-d2p.json, or the one the configuration
names) was fitted on demand -> patent lists; the other directions read the same model's features as the best
estimate the project has. The workbench, the office's lists and their workbooks all show this one number.
"""

from __future__ import annotations

import functools

import numpy as np

from matcher.rank.confidence import FEATURES, SHIPPED, ConfidenceModel
from matcher.schema import Direction

MODEL_DIRECTION = {
    Direction.TEXT_TO_PATENT: Direction.TEXT_TO_PATENT.value,
    Direction.ENTERPRISE_TO_PATENT: Direction.ENTERPRISE_TO_PATENT.value,
    Direction.PATENT_TO_ENTERPRISE: Direction.ENTERPRISE_TO_PATENT.value,  # best estimate: stored records both sides
    Direction.TEXT_TO_ENTERPRISE: Direction.TEXT_TO_PATENT.value,  # best estimate: a pasted text as the query
}
"""Which fitted direction of the demand -> patent model reads each direction's pairs."""

SCALE_FEATURES = ("score", "margin_next", "margin_mean", "top1", "spread")
"""Features on the fused score's scale, which differs by direction (0.03 towards patents, 0.1-4.6 towards enterprises):
a direction the model was not fitted on reads them at the judged pairs' mean (no evidence either way), and its pair is
judged by what means the same in every direction: rank, dense similarity, keyword scores and shared informative words."""


@functools.cache
def shipped_model() -> ConfidenceModel:
    """The demand -> patent confidence model shipped with the package."""
    return ConfidenceModel.load(SHIPPED)


def model_of(matcher) -> ConfidenceModel:
    """The model the engine's configuration names when it has one (`matcher.confidence`), else the shipped one."""
    model = getattr(matcher, "confidence", None)
    return model if model is not None else shipped_model()


def neutral(x: np.ndarray, direction: Direction, model: ConfidenceModel) -> np.ndarray:
    """The features as the model reads them: for a direction it was not fitted on, `SCALE_FEATURES` at their mean.

    Args:
        x: features (n, len(FEATURES)).
        direction: the pairs' direction.
        model: the confidence model.

    Returns:
        The features (a copy when changed).
    """
    fitted = MODEL_DIRECTION[direction]
    if fitted == direction.value and model.has(fitted):
        return x
    means = model.directions[fitted].mean
    out = np.array(x, dtype=float, copy=True)
    for name in SCALE_FEATURES:
        out[:, FEATURES.index(name)] = means[FEATURES.index(name)]
    return out


def confidences(model: ConfidenceModel, direction: Direction, x: np.ndarray) -> np.ndarray:
    """The calibrated confidence (0-1) of one ranked list's pairs.

    Args:
        model: the confidence model (`model_of`).
        direction: the list's direction.
        x: the list's pair features (`Matcher.pair_features`), one row per match in rank order.

    Returns:
        One confidence per pair.
    """
    return model.predict_proba(MODEL_DIRECTION[direction], neutral(x, direction, model))


def degree(confidence: float) -> int:
    """A confidence (0-1) as 匹配度 (0-100, rounded)."""
    return int(round(100 * min(max(float(confidence), 0.0), 1.0)))
