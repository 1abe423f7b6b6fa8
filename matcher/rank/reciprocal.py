"""Reciprocal ranks: where a query record stands in the other direction's ranking of each candidate.

An enterprise asking for patents learns more from a patent when the enterprise is also among the best takers of
that patent, out of every indexed enterprise (a mutual fit), than when the patent fits a dozen other enterprises
better. `ReciprocalRanks` keeps, for every source record (a patent), the ranks of the target records (enterprises)
in its top-`depth` list; `ReciprocalScorer` turns them into the "reciprocal" signal of the opposite direction.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import sparse

from matcher.index.atomic import atomic_write_npz, read_npz


def list_rank(value: float | None) -> int | None:
    """The list position a "reciprocal" score stands for (1 / rank), or None when the record is beyond the list
    or the signal does not apply."""
    if value is None or not np.isfinite(value) or value <= 0:
        return None
    return int(round(1.0 / value))


class ReciprocalRanks:
    """Ranks of target rows in every source row's list, stored sparse (absent: beyond `depth`).

    Args:
        ranks: (n_source_rows, n_target_rows) sparse matrix of 1-based ranks (0: not in the list).
        fingerprint: what the lists were ranked with (data of both sides, fusion, models), to tell when they are
            stale.
    """

    FILE = "reciprocal.npz"

    def __init__(self, ranks: sparse.csc_matrix, fingerprint: str) -> None:
        self.ranks = ranks.tocsc()
        self.fingerprint = fingerprint

    @classmethod
    def from_lists(cls, lists: Sequence[tuple[int, np.ndarray]], shape: tuple[int, int], fingerprint: str) -> ReciprocalRanks:
        """Build from (source row, target rows best first) pairs."""
        lists = [(s, np.asarray(t, dtype=np.int64)) for s, t in lists]
        sources = np.concatenate([np.zeros(0, np.int64)] + [np.full(len(t), s, dtype=np.int64) for s, t in lists])
        targets = np.concatenate([np.zeros(0, np.int64)] + [t for _, t in lists])
        ranks = np.concatenate([np.zeros(0, np.int32)] + [np.arange(1, len(t) + 1, dtype=np.int32) for _, t in lists])
        return cls(sparse.csc_matrix((ranks, (sources, targets)), shape=shape), fingerprint)

    def of_target(self, target_row: int) -> tuple[np.ndarray, np.ndarray]:
        """(source rows, the target's rank in each of their lists) for one target row; empty when unknown."""
        if not 0 <= target_row < self.ranks.shape[1]:
            return np.zeros(0, np.int64), np.zeros(0, np.int32)
        lo, hi = self.ranks.indptr[target_row], self.ranks.indptr[target_row + 1]
        return self.ranks.indices[lo:hi].astype(np.int64), self.ranks.data[lo:hi]

    def save(self, directory: Path) -> None:
        """Write `reciprocal.npz` into an index directory (atomically)."""
        atomic_write_npz(Path(directory) / self.FILE, {"fingerprint": self.fingerprint}, indptr=self.ranks.indptr,
                         indices=self.ranks.indices, data=self.ranks.data, shape=np.array(self.ranks.shape))

    @classmethod
    def load(cls, directory: Path) -> ReciprocalRanks | None:
        """The saved ranks of an index directory, or None when it has none."""
        return read_npz(Path(directory) / cls.FILE, lambda z, meta: cls(
            sparse.csc_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"])), str(meta["fingerprint"])),
            "the index with `matcher build`")


class ReciprocalScorer:
    """The "reciprocal" signal: 1 / (the query record's rank in a candidate's own list), 0 beyond the list.

    Each stored query proposes the records whose lists rank it best. A query that is not a stored record (free
    text) gets NaN for every candidate, which the fusions read as no evidence.

    Args:
        ranks: the other direction's lists (sources: this collection's rows; targets: the query side's rows).
        query_rows: per query of the batch, its row on the query side (None when not stored).
    """

    name = "reciprocal"

    def __init__(self, ranks: ReciprocalRanks, query_rows: Sequence[int | None]) -> None:
        self.ranks = ranks
        self._lists = [ranks.of_target(r) if r is not None else None for r in query_rows]

    def candidates(self, queries: Sequence[int], size: int) -> list[np.ndarray]:
        out = []
        for q in queries:
            found = self._lists[q]
            out.append(np.zeros(0, np.int64) if found is None else found[0][np.argsort(found[1], kind="stable")[:size]])
        return out

    def score(self, query: int, rows: np.ndarray) -> np.ndarray:
        found = self._lists[query]
        if found is None:
            return np.full(len(rows), np.nan)
        values = np.zeros(self.ranks.ranks.shape[0])
        values[found[0]] = 1.0 / found[1]
        rows = np.asarray(rows, dtype=np.int64)
        inside = rows < len(values)
        return np.where(inside, values[np.minimum(rows, len(values) - 1)], 0.0)
