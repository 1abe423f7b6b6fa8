"""A record's sector label (GB/T 4754 门类 as the data names it) for grouping catalogues and push lists."""

from __future__ import annotations

import re

import pandas as pd

UNLABELLED = "未标注"
_SPLIT = re.compile(r"——|—|-|－")


def major_sector(value: object) -> str:
    """The major sector of an industry label: "制造业——计算机、通信…" -> "制造业", "新材料-膜材料" -> "新材料".

    Args:
        value: the `industry` cell (any type; blank, None and NaN are unlabelled).

    Returns:
        The label before the first dash, or 未标注.
    """
    text = "" if value is None or (isinstance(value, float) and value != value) else str(value).strip()
    if not text or text.lower() == "nan":
        return UNLABELLED
    return _SPLIT.split(text, maxsplit=1)[0].strip() or UNLABELLED


def sector_labels(records: pd.DataFrame) -> pd.Series:
    """Each record's sector: a `sector` column when the records carry one, else the major sector of `industry`.

    Args:
        records: patent or enterprise records.

    Returns:
        A string Series aligned with `records`.
    """
    if "sector" in records:
        values = records["sector"].fillna("").astype(str).str.strip()
        fallback = records["industry"].map(major_sector) if "industry" in records else UNLABELLED
        return values.where(values != "", fallback)
    if "industry" not in records:
        return pd.Series(UNLABELLED, index=records.index, dtype=object)
    return records["industry"].map(major_sector)
