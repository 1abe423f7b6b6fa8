"""Paired comparison of two rankings of one benchmark: is a difference more than the luck of the queries drawn?

A dev benchmark holds 100-3,000 queries; two configurations that differ by 0.01 nDCG@10 on 118 of them may swap
places on the next 118. Each query is scored under both rankings (the same per-query metrics as
`matcher.evaluate.score_run`), and the per-query differences give
- a 95 % confidence interval of the mean difference (paired bootstrap over queries, BCa), and
- a two-sided p-value of the paired randomisation test (each query's two scores swapped at random: the standard
  test for IR evaluation, Smucker, Allan & Carterette, CIKM 2007),
both from scipy.stats, plus how many queries each ranking wins.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from matcher.errors import InputError
from matcher.evaluate import METRICS, metrics_by_query


@dataclass(frozen=True)
class Comparison:
    """One metric of a paired comparison (`new` against `base`).

    Attributes:
        metric: the metric name (see matcher.evaluate.METRICS).
        queries: judged queries compared.
        base, new: the mean metric of each ranking.
        delta: new - base.
        low, high: the 95 % confidence interval of delta (paired bootstrap over queries).
        p_value: two-sided paired randomisation test of "no difference".
        wins, ties, losses: queries where new scores higher, the same, lower.
    """

    metric: str
    queries: int
    base: float
    new: float
    delta: float
    low: float
    high: float
    p_value: float
    wins: int
    ties: int
    losses: int

    def as_dict(self) -> dict[str, float | int | str]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def per_query(run: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]) -> dict[str, np.ndarray]:
    """Each metric per judged query (in sorted query-id order; a query missing from the run scores 0)."""
    table = metrics_by_query(run, qrels, sorted(qrels))
    return {m: table[:, i] for i, m in enumerate(METRICS)}


def _mean_difference(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x - y, axis=axis)


def compare_runs(
    base: Mapping[str, Sequence[str]],
    new: Mapping[str, Sequence[str]],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    metrics: Sequence[str] = METRICS,
    resamples: int = 10_000,
    seed: int = 0,
) -> list[Comparison]:
    """Compare two rankings of the same judged queries, metric by metric.

    Args:
        base: query id -> ranked document ids of the reference ranking.
        new: the same for the ranking under test.
        qrels: query id -> {document id: relevance}; every judged query counts (missing from a run: 0).
        metrics: which of METRICS to compare.
        resamples: bootstrap and randomisation resamples.
        seed: random seed (the result is reproducible).

    Returns:
        One Comparison per metric.

    Raises:
        InputError: no judged query, an unknown metric, or runs that share no query with the judgements.
    """
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise InputError(f"unknown metric(s) {', '.join(unknown)}", hint=f"choose from {', '.join(METRICS)}")
    if not qrels:
        raise InputError("no judged query to compare on")
    for name, run in (("base", base), ("new", new)):
        if not set(run).intersection(qrels):
            raise InputError(f"the {name} run ranks none of the judged queries",
                             hint="compare runs of the benchmark whose qrels are given")
    b, n = per_query(base, qrels), per_query(new, qrels)
    out = []
    for metric in metrics:
        x, y = n[metric], b[metric]
        diff = x - y
        if np.ptp(diff) == 0:  # the same difference on every query: nothing to resample, the exact test is direct
            low = high = float(diff[0])
            p = 1.0 if diff[0] == 0 else min(1.0, 2.0 ** (1 - len(diff)))
        else:
            rng = np.random.default_rng(seed)
            p = float(stats.permutation_test((x, y), _mean_difference, permutation_type="samples", vectorized=True,
                                             n_resamples=resamples, alternative="two-sided", random_state=rng).pvalue)
            with warnings.catch_warnings():  # BCa warns (and falls back to nan) on very skewed data
                warnings.simplefilter("ignore")
                ci = stats.bootstrap((diff,), np.mean, n_resamples=resamples, confidence_level=0.95, method="BCa",
                                     random_state=rng).confidence_interval
                if not (np.isfinite(ci.low) and np.isfinite(ci.high)):
                    ci = stats.bootstrap((diff,), np.mean, n_resamples=resamples, confidence_level=0.95,
                                         method="percentile", random_state=rng).confidence_interval
            low, high = float(ci.low), float(ci.high)
        out.append(Comparison(metric=metric, queries=len(diff), base=float(y.mean()), new=float(x.mean()),
                              delta=float(diff.mean()), low=low, high=high, p_value=p, wins=int((diff > 0).sum()),
                              ties=int((diff == 0).sum()), losses=int((diff < 0).sum())))
    return out
