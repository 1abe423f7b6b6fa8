"""Score fusion: z-normalised weighted sum or weighted reciprocal rank fusion over a candidate pool."""

from __future__ import annotations

from typing import Protocol

import numpy as np
from scipy.stats import rankdata

from matcher.config import FusionConfig


class Fusion(Protocol):
    """Combines per-scorer scores of one query's candidate pool into one score per candidate."""

    def fuse(self, scores: dict[str, np.ndarray]) -> np.ndarray:
        """Args: scores: scorer name -> scores aligned on the same candidates. Returns: fused scores."""


class WeightedSum:
    """Convex combination of z-normalised scores.

    Each scorer's scores are standardised over the candidate pool (mean 0, unit variance) so that
    cosine similarities and unbounded BM25 scores become comparable, then weighted and summed.

    Args:
        weights: scorer name -> weight; scorers without a weight are ignored.
    """

    def __init__(self, weights: dict[str, float]) -> None:
        self.weights = weights

    @staticmethod
    def _zscore(x: np.ndarray) -> np.ndarray:
        std = float(x.std())
        return (x - x.mean()) / std if std > 1e-12 else np.zeros_like(x)

    def fuse(self, scores: dict[str, np.ndarray]) -> np.ndarray:
        n = len(next(iter(scores.values()))) if scores else 0
        total = np.zeros(n, dtype=np.float64)
        for name, w in self.weights.items():
            if w and name in scores:
                total += w * self._zscore(np.asarray(scores[name], dtype=np.float64))
        return total


class ReciprocalRankFusion:
    """Weighted reciprocal rank fusion: sum of weight / (k + rank), ranks 1-based within the pool.

    Tied scores share their average rank; a signal that is constant over the pool (e.g. the portfolio of an
    enterprise without patents) is left out, as the weighted sum leaves it out through its zero z-scores.

    Args:
        weights: scorer name -> weight.
        k: the rank offset (60 in the original RRF paper).
    """

    def __init__(self, weights: dict[str, float], k: int = 60) -> None:
        self.weights = weights
        self.k = k

    def fuse(self, scores: dict[str, np.ndarray]) -> np.ndarray:
        n = len(next(iter(scores.values()))) if scores else 0
        total = np.zeros(n, dtype=np.float64)
        for name, w in self.weights.items():
            if w and name in scores and n and np.ptp(scores[name]) > 0:  # a constant signal has no ranking to give
                # tied scores share their average rank, so ties (e.g. every record a signal scores 0) are not
                # ordered by their position in the pool
                total += w / (self.k + rankdata(-np.asarray(scores[name], dtype=np.float64), method="average"))
        return total


def make_fusion(config: FusionConfig) -> Fusion:
    """Build the fusion strategy named in a FusionConfig.

    Args:
        config: method ("weighted" or "rrf"), weights and RRF k.

    Returns:
        A Fusion object.
    """
    if config.method == "rrf":
        return ReciprocalRankFusion(config.weights, k=config.rrf_k)
    return WeightedSum(config.weights)
