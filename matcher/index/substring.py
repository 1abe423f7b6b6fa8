"""Substring lookup over a collection's normalised texts: which records contain a literal phrase."""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from matcher.text.normalize import normalize


_SEP = "\x00"


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
        texts = [normalize(t).replace(_SEP, " ") for t in texts]
        # one string with a separator no phrase contains: a phrase is found with one C-level scan
        self._blob = _SEP.join(texts)
        self._starts = np.cumsum([0] + [len(t) + 1 for t in texts[:-1]]) if texts else np.zeros(0, dtype=np.int64)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def __len__(self) -> int:
        return len(self.rows)

    def rows_containing(self, phrase: str) -> np.ndarray:
        """Sorted row ids of the records whose text contains `phrase` (normalised) literally."""
        phrase = normalize(phrase)
        hit = self._cache.get(phrase)
        if hit is None:
            positions = [m.start() for m in re.finditer(re.escape(phrase), self._blob)] if phrase and _SEP not in phrase else []
            hit = self.rows[np.unique(np.searchsorted(self._starts, positions, side="right") - 1)] if positions else self.rows[:0]
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
