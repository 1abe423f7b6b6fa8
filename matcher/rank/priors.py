"""Per-record priors: query-independent values of one collection's records (patent activity, grade), by row id."""

from __future__ import annotations

from collections.abc import Callable, Hashable

import numpy as np
import pandas as pd


def by_row(records: pd.DataFrame, values: np.ndarray) -> np.ndarray:
    """A prior's values as an array indexed by row id, as `matcher.rank.scorers.PriorScorer` reads it.

    Args:
        records: a collection's records (indexed by row id).
        values: one value per record, in the order of `records` (NaN: the prior has nothing to say about it).

    Returns:
        (max row id + 1,) float64 array; -inf at the row ids that hold no record (deleted: never candidates);
        empty when there are no records.
    """
    if not len(records):
        return np.zeros(0)
    rows = records.index.to_numpy(dtype=np.int64)
    out = np.full(int(rows.max()) + 1, -np.inf)
    out[rows] = np.asarray(values, dtype=np.float64)
    return out


def proposed_order(values: np.ndarray) -> np.ndarray:
    """The row ids a prior proposes as candidates, best first: by value, ties by row id, without the rows it has
    nothing to say about (NaN) and the row ids that hold no record (-inf).

    Args:
        values: a prior's values by row id (`by_row`).

    Returns:
        int64 row ids.
    """
    order = np.argsort(-values, kind="stable")
    return order[np.isfinite(values[order])]


class PriorCache:
    """The per-row values of each prior, computed on first use and kept while the prior's source is the same.

    A source is whatever the values derive from besides the records (the activity model's folder, the version of
    the grades table); `clear` forgets everything, for a change of the records. The values' `proposed_order` is kept
    with them: sorting 200,000 values took about 20 ms, which every query would otherwise pay.
    """

    def __init__(self) -> None:
        self._kept: dict[str, tuple[Hashable, np.ndarray]] = {}
        self._orders: dict[str, np.ndarray] = {}

    def clear(self) -> None:
        """Forget every prior's values."""
        self._kept.clear()
        self._orders.clear()

    def get(self, name: str, source: Hashable, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """The values of prior `name`, from `compute` unless those of the same source are kept.

        Args:
            name: the prior (its fusion weight name).
            source: what the values derive from (compared with ==); None: the prior has no source, its values are
                empty (e.g. no activity model configured).
            compute: builds the per-row values (`by_row`).

        Returns:
            The per-row values (empty without a source).
        """
        kept = self._kept.get(name)
        if kept is None or kept[0] != source:
            kept = (source, np.zeros(0) if source is None else compute())
            self._kept[name] = kept
            self._orders.pop(name, None)
        return kept[1]

    def order(self, name: str) -> np.ndarray:
        """The `proposed_order` of the values `get` last returned for prior `name`, computed once for them.

        Raises:
            KeyError: `get` has not been called for `name` since the last `clear`.
        """
        if name not in self._orders:
            self._orders[name] = proposed_order(self._kept[name][1])
        return self._orders[name]
