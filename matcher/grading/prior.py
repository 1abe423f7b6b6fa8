"""The grade prior: a patent's tier, then its 产业化前景 within the tier, as one ranking value in [0, 1]."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from matcher.grading.tiers import TIERS


def grade_values(ids: Sequence[object], grades: pd.DataFrame | None) -> np.ndarray:
    """Each patent's grade as a ranking prior (fusion weight "grade").

    The tiers order first (A highest, E lowest), the prospect score (0-100) orders the patents of one tier:
    value = (tiers below its tier + prospect / 100) / number of tiers, so A with prospect 80 is 0.96 and E with
    prospect 30 is 0.06. A tier A-D already follows the prospect (matcher.grading.tiers), so the order mostly
    is the prospect's, with a patent that may not be pushed (E) last.

    Args:
        ids: the patent ids, in the order wanted.
        grades: the grades table (matcher.grading.grades, GRADE_COLUMNS: id, tier, prospect); None: no grades.

    Returns:
        (len(ids),) float64; NaN for a patent the table does not grade (no evidence: the fusion gives it the
        pool's average).
    """
    out = np.full(len(ids), np.nan)
    if grades is None or not len(grades) or not len(ids):
        return out
    below = {t: len(TIERS) - 1 - i for i, t in enumerate(TIERS)}
    rank = grades["tier"].astype(str).map(below)
    prospect = pd.to_numeric(grades["prospect"], errors="coerce").clip(0, 100) / 100.0
    value = pd.Series(((rank + prospect.fillna(0.0)) / len(TIERS)).to_numpy(),
                      index=grades["id"].astype(str)).dropna()
    value = value[~value.index.duplicated(keep="last")]
    return pd.Series([str(i) for i in ids]).map(value).to_numpy(dtype=np.float64)
