"""Paired comparison of two rankings of one benchmark: is a difference more than the luck of the queries drawn?

A dev benchmark holds 100-3,000 queries; two configurations that differ by 0.01 nDCG@10 on 118 of them may swap
places on the next 118. Each query is scored under both rankings (the same per-query metrics as
`matcher.lab.evaluate.score_run`), and the per-query differences give
- a 95 % confidence interval of the mean difference (paired bootstrap over queries, BCa), and
- a two-sided p-value of the paired randomisation test (each query's two scores swapped at random: the standard
  test for IR evaluation, Smucker, Allan & Carterette, CIKM 2007),
both from scipy.stats, plus how many queries each ranking wins.

Two benchmarks ranked by the same configuration (dev companies against held-out ones) share no query, so their
gap is tested unpaired (`compare_sets`): a bootstrap interval of the difference of the two means, each set
resampled on its own, and the randomisation test that reassigns queries between the sets. A paired comparison can
pool several benchmarks' queries (`pool_queries`: the dev and the held-out companies together). Both kinds of
comparison can be split by how many documents a query has judged relevant (`by_judged_count`): a company with one
patent and a company with seventy are different questions, and two sets that mix them differently differ for that
reason alone.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from matcher.errors import InputError
from matcher.lab.evaluate import METRICS, metrics_by_query


class _Rounded:
    """`as_dict` for the comparison records: their fields with floats rounded to 4 places (the CLI's JSON line)."""

    def as_dict(self) -> dict[str, float | int | str]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Comparison(_Rounded):
    """One metric of a paired comparison (`new` against `base`).

    Attributes:
        metric: the metric name (see matcher.lab.evaluate.METRICS).
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


@dataclass(frozen=True)
class SetComparison(_Rounded):
    """One metric of an unpaired comparison of two query sets (`new` against `base`).

    Attributes:
        metric: the metric name (see matcher.lab.evaluate.METRICS).
        base_queries, new_queries: judged queries of each set.
        base, new: the mean metric of each set.
        delta: new - base.
        low, high: the 95 % confidence interval of delta (bootstrap, each set resampled on its own).
        p_value: two-sided randomisation test of "no difference" (queries reassigned between the sets).
    """

    metric: str
    base_queries: int
    new_queries: int
    base: float
    new: float
    delta: float
    low: float
    high: float
    p_value: float


JUDGED_GROUPS = ((1, 1), (2, 3), (4, 10), (11, None))
"""Bounds (inclusive; None: no upper bound) of the query groups of `by_judged_count`."""


def judged_group(count: int) -> str:
    """The name of the group of a query with `count` documents judged relevant: "1", "2-3", "4-10" or ">10"."""
    for low, high in JUDGED_GROUPS:
        if count >= low and (high is None or count <= high):
            return str(low) if low == high else f">{low - 1}" if high is None else f"{low}-{high}"
    raise ValueError(f"a judged query has at least one relevant document, not {count}")


def by_judged_count(qrels: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, Mapping[str, int]]]:
    """The judgements split by how many documents each query has judged relevant.

    Args:
        qrels: query id -> {document id: relevance}.

    Returns:
        Group name ("1", "2-3", "4-10", ">10", in that order; empty groups left out) -> the judgements of its
        queries. Queries with no relevant document are left out.
    """
    groups: dict[str, dict[str, Mapping[str, int]]] = {}
    for low, high in JUDGED_GROUPS:
        groups[judged_group(low)] = {}
    for qid, rels in qrels.items():
        count = sum(1 for r in rels.values() if r > 0)
        if count:
            groups[judged_group(count)][qid] = rels
    return {name: members for name, members in groups.items() if members}


def _check(metrics: Sequence[str], runs: Sequence[tuple[str, Mapping[str, Sequence[str]], Mapping[str, Mapping[str, int]]]]) -> None:
    """Refuse unknown metrics, empty judgements and runs that rank none of their judged queries."""
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise InputError(f"unknown metric(s) {', '.join(unknown)}", hint=f"choose from {', '.join(METRICS)}")
    for name, run, qrels in runs:
        if not qrels:
            raise InputError("no judged query to compare on")
        if not set(run).intersection(qrels):
            raise InputError(f"the {name} run ranks none of the judged queries",
                             hint="compare runs of the benchmark whose qrels are given")


def _p_value(x: np.ndarray, y: np.ndarray, statistic, permutation_type: str, resamples: int,
             rng: np.random.Generator) -> float:
    """Two-sided randomisation test of `statistic` (paired: "samples"; two sets: "independent")."""
    return float(stats.permutation_test((x, y), statistic, permutation_type=permutation_type, vectorized=True,
                                        n_resamples=resamples, alternative="two-sided", random_state=rng).pvalue)


def _interval(data: tuple[np.ndarray, ...], statistic, resamples: int, rng: np.random.Generator) -> tuple[float, float]:
    """95 % bootstrap interval of `statistic` over `data` (BCa; percentile where BCa cannot be computed)."""
    with warnings.catch_warnings():  # BCa warns (and falls back to nan) on very skewed data
        warnings.simplefilter("ignore")
        ci = stats.bootstrap(data, statistic, n_resamples=resamples, confidence_level=0.95, method="BCa",
                             random_state=rng).confidence_interval
        if not (np.isfinite(ci.low) and np.isfinite(ci.high)):
            ci = stats.bootstrap(data, statistic, n_resamples=resamples, confidence_level=0.95, method="percentile",
                                 random_state=rng).confidence_interval
    return float(ci.low), float(ci.high)


def per_query(run: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]) -> dict[str, np.ndarray]:
    """Each metric per judged query (in sorted query-id order; a query missing from the run scores 0)."""
    table = metrics_by_query(run, qrels, sorted(qrels))
    return {m: table[:, i] for i, m in enumerate(METRICS)}


def _mean_difference(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x - y, axis=axis)


def paired_test(x: np.ndarray, y: np.ndarray, *, resamples: int = 10_000, seed: int = 0) -> tuple[float, float, float]:
    """The 95 % confidence interval of the mean of x - y (paired bootstrap, BCa) and the two-sided p-value of the
    paired randomisation test of "no difference", for values paired by position (e.g. per query).

    Returns:
        (low, high, p).
    """
    diff = np.asarray(x, dtype=float) - np.asarray(y, dtype=float)
    if np.ptp(diff) == 0:  # the same difference everywhere: nothing to resample, the exact test is direct
        p = 1.0 if diff[0] == 0 else min(1.0, 2.0 ** (1 - len(diff)))
        return float(diff[0]), float(diff[0]), p
    rng = np.random.default_rng(seed)
    p = _p_value(np.asarray(x, dtype=float), np.asarray(y, dtype=float), _mean_difference, "samples", resamples, rng)
    low, high = _interval((diff,), np.mean, resamples, rng)
    return low, high, p


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
    _check(metrics, [("base", base, qrels), ("new", new, qrels)])
    b, n = per_query(base, qrels), per_query(new, qrels)
    out = []
    for metric in metrics:
        x, y = n[metric], b[metric]
        diff = x - y
        low, high, p = paired_test(x, y, resamples=resamples, seed=seed)
        out.append(Comparison(metric=metric, queries=len(diff), base=float(y.mean()), new=float(x.mean()),
                              delta=float(diff.mean()), low=low, high=high, p_value=p, wins=int((diff > 0).sum()),
                              ties=int((diff == 0).sum()), losses=int((diff < 0).sum())))
    return out


def pool_queries(parts: Sequence[tuple[str, Mapping[str, object]]]) -> dict[str, object]:
    """One query-keyed mapping (a run or judgements) over several benchmarks' queries, for pooled comparisons.

    A set of 118 queries is known to about +-0.05 nDCG@10; pooling the dev and the held-out companies (c2p-dev and
    c2p-other ask the same question of different companies) narrows a paired test's interval by about a third.

    Args:
        parts: (benchmark name, query id -> value) per benchmark; with more than one, ids become "name/id" so that
            two benchmarks' query ids never collide.

    Raises:
        InputError: the same benchmark name twice.
    """
    names = [name for name, _ in parts]
    if len(set(names)) != len(names):
        raise InputError(f"benchmark named twice among {', '.join(names)}",
                         hint="pool each benchmark once (folders are told apart by their names)")
    if len(parts) == 1:
        return dict(parts[0][1])
    return {f"{name}/{q}": value for name, mapping in parts for q, value in mapping.items()}


def _difference_of_means(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def compare_sets(
    base: Mapping[str, Sequence[str]],
    base_qrels: Mapping[str, Mapping[str, int]],
    new: Mapping[str, Sequence[str]],
    new_qrels: Mapping[str, Mapping[str, int]],
    *,
    metrics: Sequence[str] = METRICS,
    resamples: int = 10_000,
    seed: int = 0,
) -> list[SetComparison]:
    """Compare the rankings of two different query sets (e.g. the same configuration on dev and on held-out queries).

    Args:
        base: query id -> ranked document ids, for the reference set.
        base_qrels: the reference set's judgements (every judged query counts; missing from the run: 0).
        new: the same for the set under test.
        new_qrels: its judgements.
        metrics: which of METRICS to compare.
        resamples: bootstrap and randomisation resamples.
        seed: random seed (the result is reproducible).

    Returns:
        One SetComparison per metric.

    Raises:
        InputError: no judged query in a set, an unknown metric, or a run that shares no query with its judgements.
    """
    _check(metrics, [("base", base, base_qrels), ("new", new, new_qrels)])
    b, n = per_query(base, base_qrels), per_query(new, new_qrels)
    out = []
    for metric in metrics:
        x, y = n[metric], b[metric]
        rng = np.random.default_rng(seed)
        if np.ptp(np.concatenate([x, y])) == 0:  # every query scores the same: no difference to test
            low = high = 0.0
            p = 1.0
        else:
            p = _p_value(x, y, _difference_of_means, "independent", resamples, rng)
            low, high = _interval((x, y), _difference_of_means, resamples, rng)
        out.append(SetComparison(metric=metric, base_queries=len(y), new_queries=len(x), base=float(y.mean()),
                                 new=float(x.mean()), delta=float(x.mean() - y.mean()), low=low, high=high, p_value=p))
    return out
