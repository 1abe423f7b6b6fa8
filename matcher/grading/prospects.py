"""产业化前景: a 0-100 score with a one-line reason, from maturity, remaining term, sector demand and licence readiness."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from matcher.grading.maturity import LEVELS
from matcher.grading.term import NON_PATENT, Life
from matcher.grading.verdicts import Verdicts

# points of each part (they add up to 100)
MATURITY_POINTS = dict(zip(LEVELS, (5.0, 12.0, 20.0, 25.0, 30.0)))
TERM_POINTS, DEMAND_POINTS, LICENCE_POINTS = 20.0, 30.0, 20.0
FULL_TERM_YEARS = 10.0
"""Ten or more years of protection left earn every term point."""
EASY_LICENCES = ("开放许可", "先使用后付费", "先免费", "免费许可")
SUCCESS_BONUS, IMMATURE_PENALTY, MAX_PENALTY = 10.0, 5.0, 15.0


@dataclass(frozen=True)
class Prospect:
    """A prospect score and the parts it is made of.

    Attributes:
        score: 0-100.
        reason: one line naming each part's points.
        source: 自评（输入） when the input gave the score, else 规则估计 (the parts below).
    """

    score: float
    reason: str
    source: str


def maturity_points(proba: Mapping[str, float]) -> float:
    """Expected maturity points under a distribution over LEVELS (a known level: probability 1)."""
    return sum(MATURITY_POINTS.get(level, 0.0) * p for level, p in proba.items())


def demand_points(count: int, most: int) -> float:
    """Points for the demands of the patent's sector: log-scaled against the busiest sector's count."""
    if count <= 0 or most <= 0:
        return 0.0
    return DEMAND_POINTS * math.log1p(count) / math.log1p(most)


def licence_points(mode: str) -> tuple[float, str]:
    """Points for licence readiness: an easy licence (开放许可, 先使用后付费 ...) 20, any stated mode 12, none 5."""
    mode = mode.strip()
    if any(word in mode for word in EASY_LICENCES):
        return LICENCE_POINTS, mode
    return (12.0, mode) if mode else (5.0, "未定")


def term_points(life: Life) -> tuple[float, str]:
    """Points for the remaining term (0 when expired, half when unknown or not a patent)."""
    if not life.pushable:
        return 0.0, "已失效"
    if life.patent_type == NON_PATENT:
        return TERM_POINTS / 2, "非专利技术"
    if life.remaining_years is None:
        return TERM_POINTS / 2, "未知"
    years = life.remaining_years
    return TERM_POINTS * min(years, FULL_TERM_YEARS) / FULL_TERM_YEARS, (f"≤{years:.0f} 年" if life.expiry_bound else f"{years:.0f} 年")


def prospect(maturity: Mapping[str, float], life: Life, demand: tuple[int, int, str], licence_mode: str,
             verdicts: Verdicts | None = None, self_score: str = "") -> Prospect:
    """Score one patent's prospect.

    Args:
        maturity: level -> probability (the graded maturity).
        life: its legal life (matcher.grading.term.life).
        demand: (demands in its sector, the busiest sector's demands, which sector: "大类 X" / "门类 X").
        licence_mode: its license_mode cell.
        verdicts: enterprises' verdicts (success +10, each 技术不成熟 refusal -5, at most -15).
        self_score: the university's own 产业化前景 score (0-100) when the input gives one; it is then the score.

    Returns:
        The Prospect.
    """
    m = maturity_points(maturity)
    t, t_note = term_points(life)
    d = demand_points(demand[0], demand[1])
    lic, lic_note = licence_points(licence_mode)
    total = m + t + d + lic
    parts = [f"成熟度 {m:.0f}/30", f"保护期{t_note} {t:.0f}/20",
             f"{demand[2] or '行业'}需求 {demand[0]} 条 {d:.0f}/30", f"许可{lic_note} {lic:.0f}/20"]
    if verdicts is not None and verdicts.pushed:
        bonus = (SUCCESS_BONUS if verdicts.success else 0.0) - min(MAX_PENALTY, IMMATURE_PENALTY * verdicts.immature)
        if bonus:
            total += bonus
            parts.append(f"企业反馈 {bonus:+.0f}")
    total = float(min(100.0, max(0.0, total)))
    try:
        given = float(str(self_score).strip().rstrip("分"))
    except ValueError:
        given = math.nan
    if 0 <= given <= 100:
        return Prospect(round(given, 1), f"高校自评 {given:.0f} 分（规则估计 {total:.0f} 分：{'；'.join(parts)}）", "自评（输入）")
    return Prospect(round(total, 1), "；".join(parts), "规则估计")


def sector_demand(section: str, division: str, by_section: Mapping[str, int], by_division: Mapping[str, int]) -> tuple[int, int, str]:
    """The demand count of a patent's sector: its 大类's when demands carry 大类 and some match, else its 门类's.

    Args:
        section, division: the patent's 门类 and 大类.
        by_section, by_division: demand counts per 门类 and per 大类.

    Returns:
        (count, the busiest sector's count at the same level, "大类 X" / "门类 X").
    """
    if division and by_division.get(division):
        return by_division[division], max(by_division.values()), f"大类{division}"
    return by_section.get(section, 0), max(by_section.values(), default=0), (f"门类{section}" if section else "")


def level_probabilities(classes: Sequence[str], proba: Sequence[float]) -> dict[str, float]:
    """A classifier's probability row as level -> probability."""
    return {c: float(p) for c, p in zip(classes, proba)}
