"""Where ids sit in an id-per-position array (-1 marks a dead position), looked up for many ids at once.

A ranking asks for the positions of thousands of candidates per query; a Python dict lookup per id cost more than
the scoring itself. `PositionLookup` keeps a sorted copy of the live ids (rebuilt on the first lookup after a change)
and answers with one `searchsorted`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class PositionLookup:
    """Vectorised id -> position lookup over an owner's id array; the owner calls `changed` after every change."""

    def __init__(self) -> None:
        self._version = 0
        self._sorted: tuple[int, np.ndarray, np.ndarray] | None = None  # (version, sorted live ids, their positions)

    def changed(self) -> None:
        """The id array changed: the next lookup rebuilds the sorted copy."""
        self._version += 1

    def find(self, ids: np.ndarray, positions: Callable[[], np.ndarray]) -> np.ndarray:
        """The position of each id, -1 for ids not there.

        Args:
            ids: (n,) int64 ids.
            positions: returns the owner's current id per position (-1: dead); read only when the copy is stale.

        Returns:
            (n,) int64 positions.
        """
        version, built = self._version, self._sorted  # the version first: a change meanwhile leaves the copy stale
        if built is None or built[0] != version:
            id_at = positions()
            live = np.flatnonzero(id_at >= 0)
            order = np.argsort(id_at[live], kind="stable")
            built = self._sorted = (version, id_at[live][order], live[order].astype(np.int64))
        _, keys, where = built
        ids = np.asarray(ids, dtype=np.int64)
        if not len(keys):
            return np.full(len(ids), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(keys, ids), len(keys) - 1)
        return np.where(keys[at] == ids, where[at], -1)
