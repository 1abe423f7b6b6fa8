"""Substring lookup over a collection's normalised texts: which records contain a literal phrase, how often."""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from matcher.text.normalize import normalize

_SEP = "\x00"


class SubstringIndex:
    """Normalised record texts by row id, scored BM25-style on literal phrase occurrences.

    It is derived from the records (never saved): `Collection` rebuilds it lazily after any change.
    A phrase's term frequency is its number of occurrences in a record, its document frequency the
    number of records that contain it, and a record's length its number of characters.

    Args:
        rows: the records' row ids, ascending.
        texts: their texts (normalised here).
        k1, b: BM25 parameters.
        cache_size: phrases whose occurrences are remembered.
    """

    def __init__(self, rows: np.ndarray, texts: Sequence[str], *, k1: float = 1.2, b: float = 0.75,
                 cache_size: int = 50_000) -> None:
        self.rows = np.asarray(rows, dtype=np.int64)
        self.k1, self.b = k1, b
        texts = [normalize(t).replace(_SEP, " ") for t in texts]
        # one string with a separator no phrase contains: a phrase is found with one C-level scan
        self._blob = _SEP.join(texts)
        lengths = np.array([len(t) for t in texts], dtype=np.float64)
        self._starts = np.concatenate([[0], np.cumsum(lengths[:-1] + 1)]).astype(np.int64) if texts else np.zeros(0, np.int64)
        self._norm = k1 * (1 - b + b * lengths / lengths.mean()) if texts else lengths
        self._cache: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._cache_size = cache_size

    def __len__(self) -> int:
        return len(self.rows)

    def _occurrences(self, phrase: str) -> tuple[np.ndarray, np.ndarray]:
        """(positions in `rows` of the records containing the phrase, occurrence counts)."""
        hit = self._cache.get(phrase)
        if hit is None:
            starts = [m.start() for m in re.finditer(re.escape(phrase), self._blob)] if phrase and _SEP not in phrase else []
            records = np.searchsorted(self._starts, starts, side="right") - 1
            hit = np.unique(records, return_counts=True) if len(records) else (np.zeros(0, np.int64), np.zeros(0, np.int64))
            self._cache[phrase] = hit
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(phrase)
        return hit

    def rows_containing(self, phrase: str) -> np.ndarray:
        """Ascending row ids of the records whose text contains `phrase` (normalised) literally."""
        return self.rows[self._occurrences(normalize(phrase))[0]]

    def idf(self, phrase: str) -> float:
        """BM25 inverse document frequency of a phrase (0 when no record contains it)."""
        df = len(self._occurrences(normalize(phrase))[0])
        if df == 0:
            return 0.0
        return math.log((len(self) - df + 0.5) / (df + 0.5) + 1.0)

    def _phrase_scores(self, phrase: str) -> tuple[np.ndarray, np.ndarray]:
        """(positions, BM25 contribution of the phrase) for the records that contain it."""
        phrase = normalize(phrase)
        pos, tf = self._occurrences(phrase)
        return pos, self.idf(phrase) * tf * (self.k1 + 1) / (tf + self._norm[pos])

    def search(self, phrases: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, row ids) of the `k` best records for the phrases (only records containing at least one)."""
        parts = [self._phrase_scores(p) for p in phrases]
        parts = [(pos, s) for pos, s in parts if len(pos)]
        if not parts:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        pos, inverse = np.unique(np.concatenate([p for p, _ in parts]), return_inverse=True)
        totals = np.bincount(inverse, weights=np.concatenate([s for _, s in parts]))
        best = np.argsort(-totals, kind="stable")[:k]
        return totals[best], self.rows[pos[best]]

    def search_many(self, queries: Sequence[Sequence[str]], k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """`search` for each query (the same interface as `BM25Index.search_many`)."""
        return [self.search(q, k) for q in queries]

    def score(self, phrases: Sequence[str], rows: np.ndarray) -> np.ndarray:
        """BM25 scores of the given row ids (0 for rows containing none of the phrases)."""
        at = np.searchsorted(self.rows, rows)
        total = np.zeros(len(rows))
        for phrase in phrases:
            pos, s = self._phrase_scores(phrase)
            if len(pos):
                i = np.minimum(np.searchsorted(pos, at), len(pos) - 1)
                total += np.where(pos[i] == at, s[i], 0.0)
        return total
