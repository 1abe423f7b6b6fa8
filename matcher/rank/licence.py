"""Licence-mode fit of a pair's terms (cooperation and budget against licence mode and price), and its scorer."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from matcher.text.capital import registered_capital

COOPERATION_MODES = ("技术转让", "技术许可", "委托开发", "合作开发", "技术入股")
# licence modes under which a patent is licensed (the tracking terms' LICENCE_MODES and the zhibei offers' 许可转让)
LICENSING = ("开放许可", "先使用后付费", "独占", "普通", "排他", "许可转让", "许可")
GOOD, TALK, MISMATCH = 2, 1, 0
ENTERPRISE_TERMS = ("cooperation", "budget")
"""The enterprise / demand columns the fit reads."""
PATENT_TERMS = ("license_mode", "price")
"""The patent columns the fit reads."""
NEUTRAL = 0.5
"""The fit value when neither side states terms (the same as 可协商: no reason to move a pair up or down)."""


def cell(record: dict, key: str) -> str:
    """A record's value as stripped text ("" for a missing, None or NaN value)."""
    value = record.get(key, "")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def cooperation_modes(value: object) -> tuple[str, ...]:
    """The known cooperation modes named in a demand's `cooperation` cell ("技术转让,技术许可" -> both), in order."""
    text = "" if value is None else str(value)
    return tuple(m for m in COOPERATION_MODES if m in text)


def amount(value: object) -> float:
    """An amount in 万元 from text such as "20万元", "1.5亿元" or "面议" (NaN when none is given)."""
    text = "" if value is None else str(value).strip()
    return registered_capital(text) if text else math.nan


def mode_fit(cooperation: object, licence_mode: object) -> tuple[int | None, str]:
    """The demand's cooperation modes against the patent's licence mode.

    Args:
        cooperation: the demand's `cooperation` cell.
        licence_mode: the patent's licence mode ("" when unknown).

    Returns:
        (level, text): GOOD when the demand takes a licence or a transfer the patent offers, TALK when it asks for
        development or equity (the patent can be its basis) or the patent's mode is unknown, MISMATCH when it wants
        only a transfer of a patent offered for licence only; None when the demand names no mode.
    """
    wanted = cooperation_modes(cooperation)
    mode = "" if licence_mode is None else str(licence_mode).strip()
    if not wanted:
        return None, (f"专利 {mode}" if mode else "")
    text = f"需求 {'、'.join(wanted)} ↔ 专利 {mode or '许可方式未填'}"
    if not mode:
        return TALK, text
    licensing = any(m in mode for m in LICENSING)
    if "技术许可" in wanted and licensing:
        return GOOD, text
    if "技术转让" in wanted and ("转让" in mode or not licensing):
        return GOOD, text
    if set(wanted) & {"委托开发", "合作开发", "技术入股"}:
        return TALK, text
    return MISMATCH, text


def money_fit(budget: object, price: object) -> tuple[int | None, str]:
    """The demand's budget against the patent's price (both in 万元 when given as amounts).

    Returns:
        (level, text): GOOD when the price is within budget, MISMATCH when above, TALK when either is 面议 or only one
        is given; None when neither is given.
    """
    b, p = amount(budget), amount(price)
    b_text, p_text = str(budget or "").strip(), str(price or "").strip()
    if not b_text and not p_text:
        return None, ""
    if math.isnan(b) or math.isnan(p):
        return TALK, f"价格 {p_text or '未填'}，预算 {b_text or '未填'}"
    if p <= b:
        return GOOD, f"价格 {p_text} ≤ 预算 {b_text}"
    return MISMATCH, f"价格 {p_text} 超出预算 {b_text}"


def terms_fit(enterprise: dict, patent: dict) -> tuple[int | None, str, str]:
    """The fit of one pair's terms.

    Args:
        enterprise: the enterprise / demand record (cooperation, budget).
        patent: the patent record (license_mode, price).

    Returns:
        (level, mode text, money text): the level is the lower of the mode and money levels that are known (None
        when neither is).
    """
    m_level, m_text = mode_fit(cell(enterprise, "cooperation"), cell(patent, "license_mode"))
    p_level, p_text = money_fit(cell(enterprise, "budget"), cell(patent, "price"))
    known = [lv for lv in (m_level, p_level) if lv is not None]
    return (min(known) if known else None), m_text, p_text


def fit_value(level: int | None) -> float:
    """A fit level as a number for ranking: 1.0 契合, 0.5 可协商, 0.0 不符, NEUTRAL (0.5) when unknown."""
    return NEUTRAL if level is None else level / GOOD


def states_terms(record: dict, columns: Sequence[str]) -> bool:
    """Whether a record states any of the given terms columns."""
    return any(cell(record, c) for c in columns)


class LicenceScorer:
    """The licence-mode fit of each candidate with the query's own record (fusion key "licence").

    It proposes no candidates (terms alone say nothing about relevance); it re-scores the pool the other signals
    found. A query that is no stored record, or whose record states no terms, scores NEUTRAL everywhere: the fusion
    leaves a constant signal out.

    Args:
        query_records: per query, its own record (None for pasted text).
        records: the ranked collection's records (canonical columns, indexed by row id).
        query_is_enterprise: True for enterprise -> patent (the query is the enterprise side of the pair).
    """

    name = "licence"

    def __init__(self, query_records: Sequence[dict | None], records: pd.DataFrame, query_is_enterprise: bool) -> None:
        self.query_records = list(query_records)
        self.query_is_enterprise = query_is_enterprise
        columns = PATENT_TERMS if query_is_enterprise else ENTERPRISE_TERMS
        self.records = records.reindex(columns=list(columns), fill_value="")
        self.query_columns = ENTERPRISE_TERMS if query_is_enterprise else PATENT_TERMS

    def candidates(self, queries: Sequence[int], size: int) -> list[np.ndarray]:
        return [np.empty(0, dtype=np.int64) for _ in queries]

    def score(self, query: int, rows: np.ndarray) -> np.ndarray:
        own = self.query_records[query]
        if own is None or not states_terms(own, self.query_columns) or len(rows) == 0:
            return np.full(len(rows), NEUTRAL)
        others = self.records.loc[rows].to_dict("records")
        pairs = ((own, o) if self.query_is_enterprise else (o, own) for o in others)
        return np.array([fit_value(terms_fit(e, p)[0]) for e, p in pairs], dtype=np.float64)
