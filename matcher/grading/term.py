"""Legal life of a patent: alive or not, patent type, remaining term, and whether it may be pushed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np
import pandas as pd

INVENTION, UTILITY, DESIGN, NON_PATENT = "发明", "实用新型", "外观设计", "非专利技术"
# terms in years from the filing date (Patent Law art. 42; designs 15 years when filed from 2021-06-01, 10 before)
TERM_YEARS = {INVENTION: 20, UTILITY: 10}
DESIGN_TERM_CHANGE = date(2021, 6, 1)

DEAD_WORDS = ("失效", "无效", "撤回", "视为撤回", "驳回", "终止", "放弃", "届满", "期满", "未缴年费", "权利终止")
ALIVE_WORDS = ("有效", "授权", "在审", "实审", "实质审查", "公开", "审中")

# CN application numbers: 4-digit year, then the type digit (1 invention, 2 utility model, 3 design; 8/9 PCT)
_APPLICATION = re.compile(r"(?:CN|ZL)?\s*(\d{4})([1-9])\d{7}\.?[\dX]?", re.IGNORECASE)
_PUBLICATION_KIND = re.compile(r"^CN\d+([ABUYS])\d?$", re.IGNORECASE)


def patent_type(record: dict) -> str:
    """发明 / 实用新型 / 外观设计 / 非专利技术, or "" when unknown.

    Read from `patent_type` (发明专利, 实用新型专利, 外观 ...), else the publication kind code of the id (CN...A/B
    invention, U/Y utility model, S design), else the type digit of a CN application number (2017 2 ...).

    Args:
        record: canonical patent columns.
    """
    given = str(record.get("patent_type") or "")
    for word in (INVENTION, UTILITY, NON_PATENT):
        if word in given:
            return word
    if "外观" in given:
        return DESIGN
    ident = str(record.get("id") or "").replace(" ", "")
    if kind := _PUBLICATION_KIND.match(ident):
        return {"A": INVENTION, "B": INVENTION, "U": UTILITY, "Y": UTILITY, "S": DESIGN}[kind.group(1).upper()]
    if (number := _APPLICATION.fullmatch(ident)) and 1985 <= int(number.group(1)) <= 2100:
        return {"1": INVENTION, "8": INVENTION, "2": UTILITY, "9": UTILITY, "3": DESIGN}.get(number.group(2), "")
    return ""


def parse_date(value: object) -> date | None:
    """A date cell (2021-06-15, 2021/6/15, 20210615, 2021年6月15日) as a date; None when empty or unreadable."""
    text = str(value or "").strip()
    if not text:
        return None
    text = re.sub(r"[年月/.]", "-", text).replace("日", "")
    stamp = pd.to_datetime(text, errors="coerce", format="%Y%m%d" if text.isdigit() else None)
    return None if pd.isna(stamp) else stamp.date()


@dataclass(frozen=True)
class Life:
    """A patent's legal life as far as the record tells.

    Attributes:
        patent_type: see `patent_type`.
        status: "有效", "失效" or "未知" (from legal_status).
        expiry: the last day of protection (from the filing date), or its upper bound (from the grant date), or None.
        expiry_bound: True when `expiry` is only an upper bound (no filing date: the term runs from filing, so it
            ends at the latest `term` years after the grant).
        remaining_years: years of protection left at `today` (0 when expired; None when unknown).
        pushable: whether it may be pushed (see `is_pushable`).
        reason: why not pushable, or what is known ("有效，剩余约 12.3 年").
    """

    patent_type: str
    status: str
    expiry: date | None
    expiry_bound: bool
    remaining_years: float | None
    pushable: bool
    reason: str


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def life(record: dict, today: date | None = None) -> Life:
    """The legal life of one patent record.

    Args:
        record: canonical patent columns (legal_status, filing_date, grant_date, patent_type, id are read).
        today: the reference day (default: today).

    Returns:
        The Life; a record that says nothing about its status is pushable with status 未知.
    """
    today = today or date.today()
    kind = patent_type(record)
    status_text = str(record.get("legal_status") or "").strip()
    dead = next((w for w in DEAD_WORDS if w in status_text), "")
    status = "失效" if dead else ("有效" if any(w in status_text for w in ALIVE_WORDS) else "未知")
    filed, granted = parse_date(record.get("filing_date")), parse_date(record.get("grant_date"))
    years = TERM_YEARS.get(kind)
    if kind == DESIGN:
        years = 15 if (filed or granted or today) >= DESIGN_TERM_CHANGE else 10
    if years is None and kind != NON_PATENT and (filed or granted):
        years = 20  # type unknown: the longest term, so that nothing alive is called expired
    expiry, bound = None, False
    if years and filed:
        expiry = _add_years(filed, years)
    elif years and granted:
        expiry, bound = _add_years(granted, years), True
    remaining = None if expiry is None else max(0.0, (expiry - today).days / 365.25)
    if dead:
        return Life(kind, status, expiry, bound, remaining, False, f"法律状态：{status_text}")
    if expiry is not None and expiry <= today:
        return Life(kind, "失效", expiry, bound, 0.0, False, f"保护期已届满（{expiry.isoformat()}）")
    if remaining is None:
        known = f"法律状态：{status_text}" if status_text else "法律状态未知"
        return Life(kind, status, None, False, None, True, f"{known}，剩余保护期未知")
    words = f"至多约 {remaining:.1f} 年" if bound else f"约 {remaining:.1f} 年"
    return Life(kind, status, expiry, bound, remaining, True, f"{status if status != '未知' else '状态未知'}，剩余保护期{words}")


def is_pushable(record: dict, today: date | None = None) -> bool:
    """Whether a patent may be pushed: not expired, withdrawn, rejected or invalid (by legal_status or its term).

    A record without legal status or dates is pushable (nothing says otherwise); the engine's filters use this.

    Args:
        record: canonical patent columns.
        today: the reference day (default: today).
    """
    return life(record, today).pushable


LIFE_COLUMNS = ("legal_status", "filing_date", "grant_date")


@lru_cache(maxsize=262_144)
def _pushable_cached(record_id: str, status: str, filed: str, granted: str, kind: str, today: date) -> bool:
    return life({"id": record_id, "legal_status": status, "filing_date": filed, "grant_date": granted,
                 "patent_type": kind}, today).pushable


def pushable_rows(records: pd.DataFrame, allowed: np.ndarray | None, today: date | None = None) -> np.ndarray | None:
    """Narrow a search's allowed rows to the pushable patents (`is_pushable`); the engine applies it by default.

    Args:
        records: a patent collection's records, indexed by row id.
        allowed: the row ids the filters let through (None: all).
        today: the reference day (default: today).

    Returns:
        The allowed row ids without the patents that may not be pushed; `allowed` itself when none is excluded.
    """
    present = [c for c in LIFE_COLUMNS if c in records.columns]
    if not present or not len(records):
        return allowed
    told = np.zeros(len(records), dtype=bool)
    for column in present:
        told |= records[column].fillna("").astype(str).str.strip().ne("").to_numpy()
    if not told.any():
        return allowed
    today = today or date.today()
    cell = {c: (records[c].fillna("").astype(str).to_numpy() if c in records.columns else np.full(len(records), ""))
            for c in (*LIFE_COLUMNS, "patent_type", "id")}
    dead = [int(row) for i, row in enumerate(records.index) if told[i] and not _pushable_cached(
        cell["id"][i], cell["legal_status"][i], cell["filing_date"][i], cell["grant_date"][i], cell["patent_type"][i], today)]
    if not dead:
        return allowed
    rows = records.index.to_numpy(dtype=np.int64) if allowed is None else allowed
    return rows[~np.isin(rows, dead)]
