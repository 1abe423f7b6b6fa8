"""The tier (A-E) a patent's grades roll up into, with a one-line reason."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from matcher.errors import MatcherError
from matcher.grading.maturity import level_index

TIERS = ("A", "B", "C", "D", "E")
# (tier, lowest prospect score, lowest maturity level index); E is for patents that may not be pushed
THRESHOLDS = (("A", 70.0, 3), ("B", 55.0, 1), ("C", 40.0, 0))
TIER_NAMES = {"A": "优先推送", "B": "重点推送", "C": "一般推送", "D": "培育储备", "E": "不可推送"}


def tier(prospect: float, maturity: str, pushable: bool, why_not: str = "") -> tuple[str, str]:
    """Roll a patent's grades up into a tier.

    A: prospect >= 70 and at least 已有样品; B: >= 55 and at least 通过小试; C: >= 40; D: the rest; E: not pushable
    (expired, withdrawn, invalid or a duplicate).

    Args:
        prospect: the 产业化前景 score.
        maturity: the graded maturity level ("" when unknown).
        pushable: whether it may be pushed.
        why_not: the reason it may not be pushed.

    Returns:
        (tier, one-line reason).
    """
    if not pushable:
        return "E", f"{TIER_NAMES['E']}：{why_not or '不可推送'}"
    level = level_index(maturity)
    for name, score, lowest in THRESHOLDS:
        if prospect >= score and level >= lowest:
            return name, f"{TIER_NAMES[name]}：产业化前景 {prospect:.0f} 分 ≥ {score:.0f}，成熟度 {maturity or '未知'}"
    return "D", f"{TIER_NAMES['D']}：产业化前景 {prospect:.0f} 分，成熟度 {maturity or '未知'}"


TIER_FILTER = "tier"
"""The search filter on the patents' tiers (`--filter tier=A,B`): answered from the grades table, not the records."""


def tier_rows(records: pd.DataFrame, grades: pd.DataFrame | None, tiers: Sequence[str],
              allowed: np.ndarray | None) -> np.ndarray:
    """Narrow a search's allowed rows to the patents graded into one of `tiers`.

    Args:
        records: a patent collection's records, indexed by row id.
        grades: the grades table (matcher.grading.grades: id, tier); None: the index was never graded.
        tiers: the accepted tiers ("A" or "A 优先推送": the letter counts).
        allowed: the row ids the other filters let through (None: all).

    Returns:
        The allowed row ids whose patent has one of the tiers (a patent the table does not grade is left out).

    Raises:
        MatcherError: no grades, or a tier that is not A-E.
    """
    letters = {str(t).strip()[:1].upper() for t in tiers if str(t).strip()}
    if bad := sorted(letters - set(TIERS)):
        raise MatcherError(f"unknown tier {bad[0]!r} in the filter: tiers are {', '.join(TIERS)}")
    if grades is None:
        raise MatcherError("cannot filter on tiers: the index has no grades; run `matcher grade --index DIR` first")
    return _narrow(records, grades.loc[grades["tier"].astype(str).isin(letters), "id"], allowed, keep=True)


def _narrow(records: pd.DataFrame, ids: pd.Series, allowed: np.ndarray | None, *, keep: bool) -> np.ndarray:
    """The allowed row ids (None: all) of the records whose id is among `ids` (keep) or not (not keep)."""
    hit = records["id"].astype(str).isin(set(ids.astype(str))).to_numpy()
    rows = records.index.to_numpy(dtype=np.int64)[hit if keep else ~hit]
    return rows if allowed is None else np.intersect1d(allowed, rows)


def grade_text(row: Mapping[str, object]) -> str:
    """A patent's grades as one line of a match card, e.g. "分级 B 重点推送：产业化前景 63 分 ≥ 55，成熟度 通过中试｜
    技术成熟度 通过中试（模型估计，置信 62%）｜产业化前景 63 分（规则估计）" ('' for a row without a tier)."""
    name = str(row.get("tier") or "").strip()
    if not name:
        return ""
    parts = [f"分级 {name} {TIER_NAMES.get(name, '')}".strip()]
    if reason := str(row.get("tier_reason") or "").split("：", 1)[-1].strip():
        parts[0] += f"：{reason}"
    if maturity := str(row.get("maturity") or "").strip():
        source = str(row.get("maturity_source") or "").strip()
        confidence = row.get("maturity_confidence")
        sure = f"，置信 {float(confidence):.0%}" if source == "模型估计" and _number(confidence) else ""
        parts.append(f"技术成熟度 {maturity}" + (f"（{source}{sure}）" if source else ""))
    if _number(row.get("prospect")):
        source = str(row.get("prospect_source") or "").strip()
        parts.append(f"产业化前景 {float(row['prospect']):.0f} 分" + (f"（{source}）" if source else ""))
    return "｜".join(parts)


def _number(value: object) -> bool:
    try:
        return value is not None and float(value) == float(value)
    except (TypeError, ValueError):
        return False


def graded_pushable_rows(records: pd.DataFrame, grades: pd.DataFrame | None, allowed: np.ndarray | None) -> np.ndarray | None:
    """Narrow a search's allowed rows to the patents the grades table does not call unpushable (a duplicate merged into
    another record, besides the expired, withdrawn or invalid ones `pushable_rows` already leaves out).

    Args:
        records: a patent collection's records, indexed by row id.
        grades: the grades table (id, pushable); None: nothing to narrow.
        allowed: the row ids let through so far (None: all).

    Returns:
        The allowed row ids without the unpushable patents; `allowed` itself when none is excluded.
    """
    if grades is None or "pushable" not in grades or not len(records):
        return allowed
    blocked = grades.loc[~grades["pushable"].astype(bool), "id"]
    return _narrow(records, blocked, allowed, keep=False) if len(blocked) else allowed
