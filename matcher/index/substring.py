"""Substring lookup over a collection's normalised texts: which records contain a literal phrase."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import pandas as pd

from matcher.text.normalize import normalize


class SubstringIndex:
    """Normalised record texts by row id, with a bounded cache of phrase -> rows that contain it.

    It is derived from the records (never saved): `Collection` rebuilds it lazily after any change.

    Args:
        rows: the records' row ids.
        texts: their texts (normalised here).
        cache_size: phrases whose matching rows are remembered.
    """

    def __init__(self, rows: np.ndarray, texts: Sequence[str], cache_size: int = 50_000) -> None:
        self.rows = np.asarray(rows, dtype=np.int64)
        self._texts = pd.Series([normalize(t) for t in texts], dtype=object)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def __len__(self) -> int:
        return len(self.rows)

    def rows_containing(self, phrase: str) -> np.ndarray:
        """Sorted row ids of the records whose text contains `phrase` (normalised) literally."""
        phrase = normalize(phrase)
        hit = self._cache.get(phrase)
        if hit is None:
            mask = self._texts.str.contains(phrase, regex=False).to_numpy(dtype=bool) if phrase else np.zeros(len(self), bool)
            hit = self.rows[mask]
            self._cache[phrase] = hit
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(phrase)
        return hit

    def idf(self, phrase: str) -> float:
        """BM25-style inverse document frequency of a phrase (0 when no record contains it)."""
        df = len(self.rows_containing(phrase))
        if df == 0:
            return 0.0
        n = len(self)
        return math.log((n - df + 0.5) / (df + 0.5) + 1.0)
