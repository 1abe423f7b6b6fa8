"""The enterprises' activity log-odds, kept by record content and saved with the index.

The activity prior ranks an enterprise by its percentile among the indexed organisations
(`matcher.rank.activity`). The percentiles move whenever any record changes, but each record's log-odds depend on its
own name, text and capital only. Scoring them is the slow part: 201,725 profiles took 24 s. So the log-odds are kept
by a hash of those fields, and only new and changed records are scored again. They are saved in the index folder
(`activity.npz`) with the model they came from. A fresh process (the workbench, the nightly job) then gets the
percentiles without scoring anyone, as long as the same model is configured.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from matcher.index.atomic import atomic_write_npz, read_npz
from matcher.index.changes import row_hashes
from matcher.rank.activity import ActivityModel

FIELDS = ("name", "text", "capital")
"""The record columns an activity model reads (those present)."""


def content_keys(records: pd.DataFrame) -> np.ndarray:
    """Two 64-bit hashes of each record's `FIELDS`, shape (rows, 2)."""
    return row_hashes(records[[c for c in FIELDS if c in records]])


class ActivityScores:
    """Log-odds of one activity model by record content.

    Args:
        source: the model's identity (`matcher.signals.Signals.activity_source`: its folder and when it was trained).
        keys: (n, 2) uint64 content keys (`content_keys`).
        values: their log-odds (NaN for records that are not organisations).
    """

    FILE = "activity.npz"

    def __init__(self, source: Sequence, keys: np.ndarray | None = None, values: np.ndarray | None = None) -> None:
        self.source = list(source)
        self.keys = np.zeros((0, 2), dtype=np.uint64) if keys is None else np.asarray(keys, dtype=np.uint64).reshape(-1, 2)
        self.values = np.zeros(0) if values is None else np.asarray(values, dtype=np.float64)
        if len(self.keys) != len(self.values):
            raise ValueError(f"{len(self.keys)} keys and {len(self.values)} values")

    def log_odds(self, model: ActivityModel, records: pd.DataFrame) -> np.ndarray:
        """The log-odds of `records` (in their order), scoring only those whose content is not kept; afterwards
        exactly the given records are kept (what a save writes).

        Args:
            model: the model of `source`.
            records: enterprise records (columns name and text, capital where known).

        Returns:
            float64 log-odds, NaN for records that are not organisations (`ActivityModel.organisation_log_odds`).
        """
        keys = content_keys(records)
        first = pd.Index(self.keys[:, 0])
        if not first.is_unique:  # two kept records share a first key: keep one, the second key decides below
            keep = ~first.duplicated()
            first, self.keys, self.values = first[keep], self.keys[keep], self.values[keep]
        position = first.get_indexer(keys[:, 0])
        found = position >= 0
        found[found] = self.keys[position[found], 1] == keys[found, 1]
        out = np.full(len(records), np.nan)
        out[found] = self.values[position[found]]
        missing = np.flatnonzero(~found)
        if len(missing):
            part = records.iloc[missing]
            capitals = part["capital"].tolist() if "capital" in part else None
            out[missing] = model.organisation_log_odds(part["name"].tolist(), part["text"].tolist(), capitals)
        self.keys, self.values = keys, out.copy()
        return out

    def save(self, directory: Path) -> None:
        """Write `activity.npz` into an index directory (atomically)."""
        atomic_write_npz(Path(directory) / self.FILE, {"source": self.source}, keys=self.keys, values=self.values)

    @classmethod
    def load(cls, directory: Path) -> ActivityScores | None:
        """The log-odds saved in an index directory, or None when it has none."""
        return read_npz(Path(directory) / cls.FILE, lambda z, meta: cls(meta["source"], z["keys"], z["values"]),
                        "the index with `matcher build`")
