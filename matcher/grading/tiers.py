"""The tier (A-E) a patent's grades roll up into, with a one-line reason."""

from __future__ import annotations

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
