"""Licence-mode fit: a demand's cooperation modes and budget against a patent's licence mode and price, and which
small or young enterprises may be offered 先免费后有偿 (free first, paid later)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np
import pandas as pd

# the fit itself ranks pairs too (fusion weight "licence"), so it lives below the engine, in matcher.rank.licence
from matcher.rank.licence import GOOD, MISMATCH, TALK, amount, cell, fit_value, terms_fit
from matcher.rank.licence import cooperation_modes, mode_fit, money_fit  # noqa: F401 (the office's API)

FREE_FIRST_MODES = ("开放许可", "先使用后付费")
SMALL_SIZES = ("小型", "微型", "小微")
MAX_SMALL_CAPITAL = 500.0  # 万元: a registered capital up to this counts as small
MAX_YOUNG_YEARS = 5  # an enterprise registered within this many years counts as young
LEVEL_TEXT = {GOOD: "契合", TALK: "可协商", MISMATCH: "不符", None: "未知"}


@dataclass(frozen=True)
class Fit:
    """How well a pair's terms fit.

    Attributes:
        level: GOOD (2), TALK (1), MISMATCH (0), or None when neither side states terms.
        mode: the mode part of the card line ("" when unknown).
        money: the price / budget part ("" when unknown).
        free_first: the enterprise is eligible for 先免费后有偿, with the reason ("" when not).
    """

    level: int | None
    mode: str
    money: str
    free_first: str

    @property
    def value(self) -> float:
        """The fit as a number for ranking: 1.0 契合, 0.5 可协商, 0.0 不符, 0.5 unknown (neutral)."""
        return fit_value(self.level)

    def line(self) -> str:
        """The card's one-line Chinese text, e.g. "许可匹配：契合｜需求 技术许可 ↔ 专利 开放许可｜价格 8万元 ≤ 预算 20万元｜可享先免费后有偿（小型企业）"."""
        parts = [f"许可匹配：{LEVEL_TEXT[self.level]}"]
        parts += [p for p in (self.mode, self.money) if p]
        if self.free_first:
            parts.append(f"可享先免费后有偿（{self.free_first}）")
        return "｜".join(parts)


def _registered(value: object) -> date | None:
    m = re.search(r"(\d{4})[-/.年](\d{1,2})", str(value or ""))
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), 1)
    except ValueError:
        return None


def free_first(enterprise: dict, today: date | None = None) -> str:
    """Whether an enterprise may be offered 先免费后有偿, and why.

    Small: `size` 小型 / 微型, or a registered `capital` up to MAX_SMALL_CAPITAL 万元. Young: a registration date (an
    optional `registered` column, e.g. 注册日期 2021-05-10) within MAX_YOUNG_YEARS years of `today`.

    Args:
        enterprise: the enterprise record.
        today: the reference date (default today).

    Returns:
        The reason ("小型企业", "注册资本 300 万元", "成立不满 5 年"; joined with "、"), or "" when not eligible.
    """
    reasons = []
    size = cell(enterprise, "size")
    if size and any(s in size for s in SMALL_SIZES):
        reasons.append(f"{size}企业" if not size.endswith("企业") else size)
    capital = amount(cell(enterprise, "capital"))
    if not math.isnan(capital) and capital <= MAX_SMALL_CAPITAL:
        reasons.append(f"注册资本 {capital:g} 万元")
    registered = _registered(cell(enterprise, "registered"))
    today = today or date.today()
    if registered is not None and (today - registered).days < MAX_YOUNG_YEARS * 365.25:
        reasons.append(f"成立不满 {MAX_YOUNG_YEARS} 年")
    return "、".join(reasons)


def licence_fit(enterprise: dict, patent: dict, today: date | None = None) -> Fit:
    """The fit of one pair's terms.

    Args:
        enterprise: the enterprise / demand record (cooperation, budget, size, capital, registered).
        patent: the patent record (license_mode, price), with editable terms already applied.
        today: the reference date for the young-enterprise rule.

    Returns:
        The Fit: the lower of the mode and money levels that are known; 先免费后有偿 is offered only for a patent
        whose licence mode allows it (开放许可 / 先使用后付费) or whose mode is not set.
    """
    return _fit(_enterprise_terms(enterprise, today or date.today()), _patent_terms(patent))


def with_terms(patent: dict, terms: object | None) -> dict:
    """A patent record with the licence terms an editor set in the tracking database (matcher.tracking.terms.Terms:
    license_mode, price, maturity) in place of the input columns; terms left empty keep the record's value.

    Args:
        patent: the patent record.
        terms: its current Terms, or None.

    Returns:
        A new dict (the record itself when there are no terms).
    """
    if terms is None:
        return patent
    return {**patent, **{k: v for k, v in terms.values().items() if str(v or "").strip()}}


def fit_line(enterprise: dict, patent: dict) -> str:
    """The card's one-line licence-fit text of a pair (what the workbench shows under a match)."""
    return licence_fit(enterprise, patent).line()


ENTERPRISE_TERMS = ("cooperation", "budget", "size", "capital", "registered")
"""The enterprise columns a pair's fit reads."""
PATENT_TERMS = ("license_mode", "price")
"""The patent columns a pair's fit reads."""


def fit_columns(pairs: pd.DataFrame, enterprises: dict[str, dict], patents: dict[str, dict],
                today: date | None = None) -> pd.DataFrame:
    """Add `licence_fit` (契合 / 可协商 / 不符 / 未知), `licence_line` and `free_first` columns to pair rows.

    A pair's fit follows from its enterprise's terms and 先免费后有偿 reason and its patent's terms, so each distinct
    combination is computed once (the nightly export holds 2 million pairs of a few thousand combinations).

    Args:
        pairs: rows with enterprise_id and patent_id.
        enterprises: enterprise id -> record (ENTERPRISE_TERMS are read).
        patents: patent id -> record (PATENT_TERMS are read).
        today: the reference date for the young-enterprise rule (default today).

    Returns:
        A copy with the three columns.
    """
    out = pairs.copy()
    today = today or date.today()
    e_codes, e_ids = pd.factorize(out["enterprise_id"].astype(str))
    p_codes, p_ids = pd.factorize(out["patent_id"].astype(str))
    e_kind, e_keys = _distinct([_enterprise_terms(enterprises.get(i, {}), today) for i in e_ids])
    p_kind, p_keys = _distinct([_patent_terms(patents.get(i, {})) for i in p_ids])
    width = max(len(p_keys), 1)
    combos, which = np.unique(e_kind[e_codes] * width + p_kind[p_codes], return_inverse=True)
    fits = [_fit(e_keys[c // width], p_keys[c % width]) for c in combos.tolist()]
    for column, value in (("licence_fit", lambda f: LEVEL_TEXT[f.level]), ("licence_line", Fit.line),
                          ("free_first", lambda f: f.free_first)):
        out[column] = np.array([value(f) for f in fits], dtype=object)[which] if fits else np.zeros(0, dtype=object)
    return out


def _distinct(keys: list[tuple]) -> tuple[np.ndarray, list[tuple]]:
    """Each key's number among the distinct keys (in order of first appearance), and the distinct keys."""
    number: dict[tuple, int] = {}
    codes = np.fromiter((number.setdefault(k, len(number)) for k in keys), dtype=np.int64, count=len(keys))
    return codes, list(number)


def _patent_terms(patent: dict) -> tuple[str, str]:
    """What a pair's fit reads of its patent (PATENT_TERMS)."""
    return cell(patent, "license_mode"), cell(patent, "price")


def _enterprise_terms(enterprise: dict, today: date) -> tuple[str, str, str]:
    """What a pair's fit reads of its enterprise: cooperation modes, budget and the 先免费后有偿 reason."""
    reason = _free_first_of(cell(enterprise, "size"), cell(enterprise, "capital"), cell(enterprise, "registered"), today)
    return cell(enterprise, "cooperation"), cell(enterprise, "budget"), reason


@lru_cache(maxsize=65536)
def _free_first_of(size: str, capital: str, registered: str, today: date) -> str:
    """`free_first` of the columns it reads (many enterprises share them: 201,725 registrations, 5 s a night)."""
    return free_first({"size": size, "capital": capital, "registered": registered}, today)


def _fit(enterprise: tuple[str, str, str], patent: tuple[str, str]) -> Fit:
    """`licence_fit` of an enterprise's and a patent's terms (`_enterprise_terms`, PATENT_TERMS)."""
    cooperation, budget, reason = enterprise
    level, m_text, p_text = terms_fit({"cooperation": cooperation, "budget": budget},
                                      dict(zip(PATENT_TERMS, patent)))
    mode = patent[0]
    return Fit(level, m_text, p_text, reason if (not mode or mode in FREE_FIRST_MODES) else "")
